using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Tally.Server;

/// <summary>
/// Conditional GETs for the JSON answers of the API and the dashboard's session probe: a strong ETag (<see cref="Of"/>,
/// over the body as sent before compression) on every 200 JSON answer of a GET under <c>/api/</c> or <c>/dashboard/</c>,
/// and <c>304 Not Modified</c> without a body when the request's <c>If-None-Match</c> names it. A page that polls
/// an unchanged resource then pays a request and no body. The answer is buffered to hash it; one that grows past
/// <see cref="MaxBuffered"/> bytes is sent as it comes, without an ETag. Runs inside response compression, so the
/// hash is over the identity body and the same tag stands for every encoding (the answer varies by Accept-Encoding).
/// </summary>
public static class ApiETags
{
    public const int MaxBuffered = 4 * 1024 * 1024;

    /// <summary>The strong ETag of a body: the first 16 bytes of its SHA-256, in hex (collisions are not a concern at 128 bits).</summary>
    public static EntityTagHeaderValue Of(ReadOnlySpan<byte> body) => new($"\"{Convert.ToHexStringLower(SHA256.HashData(body)[..16])}\"");

    /// <summary>Whether the request's <c>If-None-Match</c> names <paramref name="tag"/> (weak comparison, as RFC 9110 asks for it) or is <c>*</c>.</summary>
    public static bool IsNotModified(HttpRequest request, EntityTagHeaderValue tag) =>
        request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } match && match.Any(m => m.Compare(tag, useStrongComparison: false) || m.Equals(EntityTagHeaderValue.Any));

    public static IApplicationBuilder UseApiETags(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method)
            || !(request.Path.StartsWithSegments("/api", StringComparison.Ordinal) || request.Path.StartsWithSegments("/dashboard", StringComparison.Ordinal)))
        {
            await next(context);
            return;
        }
        var response = context.Response;
        var original = response.Body;
        await using var buffer = new BufferUntil(original, MaxBuffered);
        response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            response.Body = original;
        }
        if (buffer.PassedThrough)
        {
            return;
        }
        var body = buffer.Buffered;
        if (response.StatusCode == StatusCodes.Status200OK && IsJson(response.ContentType) && !response.Headers.ContainsKey(HeaderNames.ETag))
        {
            var tag = Of(body.Span);
            response.GetTypedHeaders().ETag = tag;
            if (string.IsNullOrEmpty(response.Headers.CacheControl))
            {
                // Kept, but asked again each time: the ETag makes that a 304.
                response.Headers.CacheControl = "private, no-cache";
            }
            if (IsNotModified(request, tag))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                response.ContentLength = null;
                response.Headers.ContentType = default;
                return;
            }
        }
        if (!body.IsEmpty)
        {
            await original.WriteAsync(body, context.RequestAborted);
        }
    });

    private static bool IsJson(string? contentType) =>
        contentType is { } type && type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Holds what is written until it passes <c>limit</c> bytes; from then on, writes through to the response.</summary>
    private sealed class BufferUntil(Stream inner, int limit) : Stream
    {
        private MemoryStream? _buffer = new();

        public bool PassedThrough => _buffer is null;

        public ReadOnlyMemory<byte> Buffered => _buffer is { } b ? b.GetBuffer().AsMemory(0, (int)b.Length) : ReadOnlyMemory<byte>.Empty;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
            // Held until the answer is complete; a pass-through answer flushes on its own writes.
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => _buffer is null ? inner.FlushAsync(cancellationToken) : Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            if (_buffer is { } b)
            {
                if (b.Length + data.Length <= limit)
                {
                    b.Write(data.Span);
                    return;
                }
                _buffer = null;
                await inner.WriteAsync(b.GetBuffer().AsMemory(0, (int)b.Length), cancellationToken);
                await b.DisposeAsync();
            }
            await inner.WriteAsync(data, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _buffer?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
