using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tally.Import;
using Tally.Import.QlikCloud;
using Tally.Import.Qrs;
using Tally.Storage;

namespace Tally.Server.Import;

/// <summary>
/// Builds each stored source's client from its settings and opened secret: Qlik Cloud with its API key, QSEoW with
/// its client certificate or through its virtual proxy's header, trusting the site's own CA when one is given. Every
/// connection goes through the same address rule as webhooks (<see cref="Monitoring.WebhookTargets"/>): public
/// addresses only, unless <see cref="ImportOptions.AllowPrivateTargets"/> is on for an on-premises site. Retry waits
/// are network waits, so they run on the system clock even under a test's fake one.
/// </summary>
public sealed class SourceClients(IOptions<ImportOptions> options) : ISourceClients
{
    public IUsageSource Create(SourceRecord source, string? secret)
    {
        var settings = JsonSerializer.Deserialize<SourceSettings>(source.SettingsJson, JsonBody.Options) ?? new SourceSettings(null, null, null);
        var sealedParts = secret is null ? new SourceSecret(null, null, null, null, null, null)
            : JsonSerializer.Deserialize<SourceSecret>(secret, JsonBody.Options) ?? new SourceSecret(null, null, null, null, null, null);
        var connect = Connect(options.Value.AllowPrivateTargets);
        var url = new Uri(source.Url);
        return source.Kind switch
        {
            SourceEndpoints.QlikCloud => new QlikCloudSource(url, sealedParts.ApiKey ?? "", TimeProvider.System, options.Value.Retry, connect: connect),
            SourceEndpoints.Qseow => new QrsSource(new QrsOptions(url, Authentication(settings, sealedParts),
                settings.TrustedCaPem is { } ca ? QrsServerTrust.CustomRoot(X509Certificate2.CreateFromPem(ca)) : null), TimeProvider.System, options.Value.Retry, connect: connect),
            _ => throw new SourceException(SourceFailure.BadResponse, $"Unknown source kind '{source.Kind}'."),
        };
    }

    private static QrsAuthentication Authentication(SourceSettings settings, SourceSecret secret)
    {
        if (settings.HeaderName is { } header)
        {
            return new QrsHeaderAuthentication(header, secret.HeaderValue ?? "");
        }
        var certificate = secret.Pfx is { } pfx
            ? X509CertificateLoader.LoadPkcs12(Convert.FromBase64String(pfx), secret.Password)
            : QrsCertificates.ClientFromPem(secret.CertificatePem ?? "", secret.KeyPem ?? "");
        return QrsCertificateAuthentication.ActingAs(certificate, settings.QrsUser);
    }

    /// <summary>Every connection a source opens, checked on the address it really connects to (DNS rebinding included).</summary>
    private static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Connect(bool allowPrivate) =>
        (context, cancel) => Monitoring.WebhookTargets.ConnectAsync(context, allowPrivate, cancel);
}
