using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tally.Import.Qrs;

/// <summary>
/// Where a QSEoW site's Repository Service (QRS) is and how Tally signs in. <paramref name="BaseAddress"/> is
/// <c>https://host:4242/</c> for the certificate way, or <c>https://host/prefix/</c> for a virtual proxy with header
/// authentication; it must be HTTPS because every request carries the user it acts as.
/// </summary>
public sealed record QrsOptions(Uri BaseAddress, QrsAuthentication Authentication, QrsServerTrust? ServerTrust = null)
{
    /// <summary>The address with a trailing slash, so relative paths keep the virtual proxy prefix.</summary>
    internal Uri Root => BaseAddress.AbsoluteUri.EndsWith('/') ? BaseAddress : new Uri(BaseAddress.AbsoluteUri + "/");

    internal QrsServerTrust Trust => ServerTrust ?? QrsServerTrust.SystemStore;

    /// <summary>
    /// How much modification time one request for usage covers. The QRS answers a filter with every match at once,
    /// unpaged: a site's two months in one answer could be hundreds of MB, so a read asks one window at a time.
    /// </summary>
    public TimeSpan UsageWindow { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Refuses settings that could never work or would leak the user, before anything is sent.</summary>
    internal void Validate()
    {
        if (!BaseAddress.IsAbsoluteUri || BaseAddress.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"The QRS address must be an absolute https:// address, not '{BaseAddress}'.", nameof(BaseAddress));
        }
        Authentication.Validate();
        if (UsageWindow < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"The usage window must be at least a second, not {UsageWindow}.", nameof(UsageWindow));
        }
    }
}

/// <summary>How Tally proves who it is to the QRS.</summary>
public abstract record QrsAuthentication
{
    private protected QrsAuthentication() { }

    internal abstract void Validate();
}

/// <summary>
/// The QRS's own way (port 4242): the client certificate exported from the QMC, and the user every request acts as
/// in <c>X-Qlik-User</c> (the repository's service account by default).
/// </summary>
public sealed record QrsCertificateAuthentication(X509Certificate2 ClientCertificate, string UserDirectory = "INTERNAL", string UserId = "sa_repository")
    : QrsAuthentication
{
    internal string UserHeader => $"UserDirectory={UserDirectory}; UserId={UserId}";

    /// <summary>
    /// Signing in with <paramref name="certificate"/> as <paramref name="user"/>, written <c>DIRECTORY\userid</c> (a bare id is
    /// in <c>INTERNAL</c>); null: the repository's service account.
    /// </summary>
    public static QrsCertificateAuthentication ActingAs(X509Certificate2 certificate, string? user) =>
        user?.Split('\\', 2) is [var directory, var id] ? new(certificate, directory, id)
        : user is null ? new(certificate) : new(certificate, "INTERNAL", user);

    internal override void Validate()
    {
        if (!ClientCertificate.HasPrivateKey)
        {
            throw new ArgumentException("The QRS client certificate has no private key: export it from the QMC with its key.", nameof(ClientCertificate));
        }
        QrsHeaders.RequireHeaderSafe(UserDirectory, nameof(UserDirectory));
        QrsHeaders.RequireHeaderSafe(UserId, nameof(UserId));
    }
}

/// <summary>
/// Through a virtual proxy whose authentication method is "Header authentication": the proxy trusts
/// <paramref name="HeaderName"/> to name the user (<paramref name="User"/>, as the proxy expects it, e.g.
/// <c>DIRECTORY\userid</c> for dynamic directories). No client certificate.
/// </summary>
public sealed record QrsHeaderAuthentication(string HeaderName, string User) : QrsAuthentication
{
    internal override void Validate()
    {
        QrsHeaders.RequireHeaderSafe(HeaderName, nameof(HeaderName));
        QrsHeaders.RequireHeaderSafe(User, nameof(User));
    }
}

/// <summary>Which certificate authorities Tally accepts for the QRS's server certificate. Validation is never off.</summary>
public abstract record QrsServerTrust
{
    private protected QrsServerTrust() { }

    /// <summary>The machine's trust store (the default): right when the site's CA is installed there, or the proxy has a public certificate.</summary>
    public static QrsServerTrust SystemStore { get; } = new SystemStoreTrust();

    /// <summary>Only chains ending at <paramref name="root"/>: the site's own self-signed CA, exported from the QSEoW central node.</summary>
    public static QrsServerTrust CustomRoot(X509Certificate2 root) => new CustomRootTrust(root);

    internal sealed record SystemStoreTrust : QrsServerTrust;

    internal sealed record CustomRootTrust(X509Certificate2 Root) : QrsServerTrust;
}

/// <summary>Loads the certificates an admin exports from the QMC; failures name the file, never the password.</summary>
public static class QrsCertificates
{
    /// <summary>The client certificate and key from the QMC's <c>client.pfx</c> (the export's password).</summary>
    public static X509Certificate2 LoadClientPfx(string path, string? password) =>
        Load(path, "client certificate (PFX)", () => X509CertificateLoader.LoadPkcs12FromFile(path, password));

    /// <summary>The client certificate and key from the QMC's PEM export (<c>client.pem</c> and <c>client_key.pem</c>).</summary>
    public static X509Certificate2 LoadClientPem(string certificatePath, string keyPath) =>
        Load(certificatePath, "client certificate (PEM)", () => WithKeyContainer(X509Certificate2.CreateFromPemFile(certificatePath, keyPath)));

    /// <summary>The client certificate and key from the QMC's PEM export, given as text (as a source stores them).</summary>
    public static X509Certificate2 ClientFromPem(string certificatePem, string keyPem) =>
        WithKeyContainer(X509Certificate2.CreateFromPem(certificatePem, keyPem));

    // A PEM key is ephemeral; Windows' TLS stack cannot use one for a client certificate, a PKCS#12 round trip gives it
    // a real key container (and changes nothing elsewhere).
    private static X509Certificate2 WithKeyContainer(X509Certificate2 pem)
    {
        using (pem)
        {
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
    }

    /// <summary>A CA certificate (the QMC's <c>root.pem</c>, or DER) to trust for the server's certificate.</summary>
    public static X509Certificate2 LoadAuthority(string path) =>
        Load(path, "CA certificate", () => X509CertificateLoader.LoadCertificateFromFile(path));

    private static X509Certificate2 Load(string path, string what, Func<X509Certificate2> load)
    {
        try
        {
            return load();
        }
        catch (CryptographicException e)
        {
            // The exception's own text can echo parts of the input; the message says what to check instead.
            throw new ArgumentException($"The QRS {what} at '{path}' could not be read: check the file's format and its password.", nameof(path), e);
        }
    }
}

internal static class QrsHeaders
{
    internal static void RequireHeaderSafe(string value, string name)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Any(char.IsControl))
        {
            throw new ArgumentException($"The QRS setting {name} must be a non-empty single-line value.", name);
        }
    }
}
