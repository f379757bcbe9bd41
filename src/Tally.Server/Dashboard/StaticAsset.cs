using System.IO.Compression;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Tally.Server.Dashboard;

/// <summary>
/// One dashboard file, compressed once when the server starts (Brotli and gzip at their best ratio: the files never
/// change while it runs) and served with a strong ETag, so a reload revalidates with a 304 instead of downloading again.
/// </summary>
internal sealed class StaticAsset
{
    private readonly byte[] _identity;
    private readonly byte[] _brotli;
    private readonly byte[] _gzip;
    private readonly string _contentType;
    private readonly EntityTagHeaderValue _etag;

    private StaticAsset(byte[] identity, string contentType)
    {
        _identity = identity;
        _contentType = contentType;
        _brotli = Compress(identity, s => new BrotliStream(s, CompressionLevel.SmallestSize));
        _gzip = Compress(identity, s => new GZipStream(s, CompressionLevel.SmallestSize));
        _etag = ApiETags.Of(identity);
    }

    public static StaticAsset Of(byte[] bytes, string contentType) => new(bytes, contentType);

    public IResult Serve(HttpContext http)
    {
        var response = http.Response;
        var headers = response.GetTypedHeaders();
        headers.ETag = _etag;
        // no-cache: the browser keeps the file but asks each time (the ETag makes that a 304), so a new version shows at once.
        response.Headers.CacheControl = "no-cache";
        response.Headers.Vary = HeaderNames.AcceptEncoding;
        if (ApiETags.IsNotModified(http.Request, _etag))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }
        var (body, encoding) = Choose(http.Request);
        if (encoding is not null)
        {
            response.Headers.ContentEncoding = encoding;
        }
        return TypedResults.Bytes(body, _contentType);
    }

    /// <summary>Brotli when the client takes it, else gzip, else the file as it is; a coding with q=0 is refused by the client.</summary>
    private (byte[] Body, string? Encoding) Choose(HttpRequest request)
    {
        var accepted = request.GetTypedHeaders().AcceptEncoding;
        bool Takes(string coding) => accepted.Any(a => a.Value.Equals(coding, StringComparison.OrdinalIgnoreCase) && a.Quality is not 0.0);
        return Takes("br") ? (_brotli, "br") : Takes("gzip") ? (_gzip, "gzip") : (_identity, null);
    }

    private static byte[] Compress(byte[] bytes, Func<Stream, Stream> compressor)
    {
        using var output = new MemoryStream();
        using (var stream = compressor(output))
        {
            stream.Write(bytes);
        }
        return output.ToArray();
    }
}
