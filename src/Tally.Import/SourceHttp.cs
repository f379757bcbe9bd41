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
    /// GETs <paramref name="request"/>'s URI and reads the JSON answer as <typeparamref name="T"/>; <paramref name="what"/>
    /// names the read in errors ("Qlik Cloud consumption page"). Messages name the address without its query, never
    /// a credential.
    /// </summary>
    public static async Task<T> ReadJsonAsync<T>(HttpClient client, HttpRequestMessage request, JsonSerializerOptions options, string what,
        CancellationToken cancellation)
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
            try
            {
                var stream = await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false);
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

    private static string Reason(Exception e) => e switch
    {
        TimeoutRejectedException or TaskCanceledException => "timed out",
        HttpRequestException { InnerException: System.Security.Authentication.AuthenticationException tls } => $"TLS: {tls.Message}",
        HttpRequestException { HttpRequestError: var error } => $"{error}: {e.Message}",
        _ => e.Message,
    };
}
