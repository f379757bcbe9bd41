using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Tally.Server;

/// <summary>
/// Brotli and gzip for answers to GET (and HEAD) requests. Answers to anything else are never compressed: the only
/// answers that carry a secret (a new API key, a webhook channel's signing secret) are those of POST requests, and a
/// compressed secret next to text an attacker chooses leaks through the answer's length (BREACH; docs/security.md).
/// The dashboard's own files are compressed once at start (Dashboard/StaticAsset) and pass through untouched.
/// </summary>
public static class Compression
{
    public static IServiceCollection AddTallyCompression(this IServiceCollection services)
    {
        services.AddResponseCompression(o =>
        {
            // Safe over HTTPS as well, because no compressed answer holds a secret (see above).
            o.EnableForHttps = true;
            o.Providers.Add<BrotliCompressionProvider>();
            o.Providers.Add<GzipCompressionProvider>();
            o.MimeTypes = [.. ResponseCompressionDefaults.MimeTypes, "application/problem+json", "text/csv", "image/svg+xml"];
        });
        // Fastest: the read API's answers are made fresh on every poll; the ratio at this level is already ~10:1 for JSON.
        services.Configure<BrotliCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        services.AddSingleton<IResponseCompressionProvider>(sp => new ReadsOnly(new ResponseCompressionProvider(sp, sp.GetRequiredService<IOptions<ResponseCompressionOptions>>())));
        return services;
    }

    /// <summary>The framework's choice of encoding, limited to answers of requests that only read.</summary>
    private sealed class ReadsOnly(IResponseCompressionProvider inner) : IResponseCompressionProvider
    {
        public ICompressionProvider? GetCompressionProvider(HttpContext context) => inner.GetCompressionProvider(context);

        public bool CheckRequestAcceptsCompression(HttpContext context) =>
            (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)) && inner.CheckRequestAcceptsCompression(context);

        public bool ShouldCompressResponse(HttpContext context) => inner.ShouldCompressResponse(context);
    }
}
