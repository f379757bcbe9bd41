using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Timeout;

namespace Tally.Import;

/// <summary>How hard a source's HTTP client retries (tests shorten the waits; the defaults are for real networks).</summary>
public sealed record SourceRetry(int MaxRetries, TimeSpan FirstDelay, TimeSpan MaxDelay, TimeSpan AttemptTimeout)
{
    public static SourceRetry Default { get; } = new(5, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(60));
}

/// <summary>
/// The HTTP client every source reads through: the resilience pipeline the webhooks use (Microsoft.Extensions.Http.Resilience)
/// retries 429 after its Retry-After, 5xx, time-outs and broken connections with growing, jittered waits; what is
/// still failing after that becomes a <see cref="SourceException"/> saying what the admin should look at.
/// </summary>
public static class SourceHttp
{
    /// <summary>A client over <paramref name="primary"/> (which carries the source's TLS settings and client certificate).</summary>
    public static HttpClient Create(HttpMessageHandler primary, TimeProvider time, SourceRetry? retry = null)
    {
        var r = retry ?? SourceRetry.Default;
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = r.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = r.FirstDelay,
                MaxDelay = r.MaxDelay,
                ShouldRetryAfterHeader = true,
            })
            .AddTimeout(new HttpTimeoutStrategyOptions { Timeout = r.AttemptTimeout })
            .Build();
        return new HttpClient(new ResilienceHandler(pipeline) { InnerHandler = primary }, disposeHandler: true)
        {
            // The pipeline times each attempt; the client's own limit would cut the retries short.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>
    /// The most one answer may hold. A source is an address a tenant admin chose: an endless answer must fail that
    /// pull, not take the server's memory from every other tenant. Far above a real page (Qlik Cloud's 200 records are
    /// about 100 KB; a QSEoW site's two months of analyzer-time usage in one answer, some tens of MB).
    /// </summary>
    public const long MaxResponseBytes = 256L * 1024 * 1024;

    /// <summary>
    /// GETs <paramref name="request"/>'s URI and reads the JSON answer as <typeparamref name="T"/>; <paramref name="what"/>
    /// names the read in errors ("Qlik Cloud consumption page"). Messages name the address without its query, never
    /// a credential. An answer over <paramref name="maxBytes"/> is a bad response.
    /// </summary>
    public static async Task<T> ReadJsonAsync<T>(HttpClient client, HttpRequestMessage request, JsonSerializerOptions options, string what,
        CancellationToken cancellation, long maxBytes = MaxResponseBytes)
    {
        var where = request.RequestUri is { } uri ? uri.GetLeftPart(UriPartial.Path) : "(no address)";
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or TaskCanceledException && !cancellation.IsCancellationRequested)
        {
            throw new SourceException(SourceFailure.Unreachable, $"{what}: {where} did not answer ({Reason(e)}).", e);
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            switch (response.StatusCode)
            {
                case HttpStatusCode.Unauthorized:
                    throw new SourceException(SourceFailure.Unauthorized, $"{what}: {where} refused the credentials (401).");
                case HttpStatusCode.Forbidden:
                    throw new SourceException(SourceFailure.Forbidden, $"{what}: {where} does not allow this read (403): the key or user lacks a permission.");
                case HttpStatusCode.NotFound:
                    throw new SourceException(SourceFailure.NotFound, $"{what}: {where} is not there (404): check the address.");
                case HttpStatusCode.TooManyRequests:
                case >= HttpStatusCode.InternalServerError:
                    throw new SourceException(SourceFailure.Unreachable, $"{what}: {where} still answered {status} after the retries.");
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new SourceException(SourceFailure.BadResponse, $"{what}: {where} answered {status}.");
            }
            var tooLarge = $"{what}: {where} answered more than {maxBytes:N0} bytes, more than any page of a real source; the read stops there.";
            if (response.Content.Headers.ContentLength > maxBytes)
            {
                throw new SourceException(SourceFailure.BadResponse, tooLarge);
            }
            try
            {
                var stream = new CappedStream(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false), maxBytes, tooLarge);
                return await JsonSerializer.DeserializeAsync<T>(stream, options, cancellation).ConfigureAwait(false)
                    ?? throw new SourceException(SourceFailure.BadResponse, $"{what}: {where} answered null.");
            }
            catch (JsonException e)
            {
                throw new SourceException(SourceFailure.BadResponse,
                    $"{what}: {where} answered something that is not the expected JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}, at {e.Path}).", e);
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !cancellation.IsCancellationRequested)
            {
                throw new SourceException(SourceFailure.Unreachable, $"{what}: {where} broke off the answer ({Reason(e)}).", e);
            }
        }
    }

    /// <summary>Reads through to <c>inner</c> until more than <c>max</c> bytes have come, then fails the read with <c>tooLarge</c>.</summary>
    private sealed class CappedStream(Stream inner, long max, string tooLarge) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int read)
        {
            _read += read;
            return _read > max ? throw new SourceException(SourceFailure.BadResponse, tooLarge) : read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    private static string Reason(Exception e) => e switch
    {
        TimeoutRejectedException or TaskCanceledException => "timed out",
        HttpRequestException { InnerException: System.Security.Authentication.AuthenticationException tls } => $"TLS: {tls.Message}",
        HttpRequestException { HttpRequestError: var error } => $"{error}: {e.Message}",
        _ => e.Message,
    };
}
