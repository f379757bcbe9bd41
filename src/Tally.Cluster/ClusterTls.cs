using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using Tally.Server;

namespace Tally.Cluster;

/// <summary>
/// The nodes' mutual TLS: every node presents the cluster's certificate and admits a peer only if the peer's
/// certificate is one it trusts. A call between nodes carries a tenant's request together with the caller the front
/// has already authenticated, so whoever can open the silo port unchallenged could act as any tenant's admin: the
/// certificate is what keeps that port to the nodes.
/// </summary>
public sealed class ClusterTls
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1", ClientAuth = "1.3.6.1.5.5.7.3.2";

    private readonly X509Certificate2Collection _anchors;
    private readonly TimeProvider _time;

    private ClusterTls(X509Certificate2 certificate, X509Certificate2Collection anchors, TimeProvider time)
    {
        Certificate = certificate;
        _anchors = anchors;
        _time = time;
    }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>
    /// Loads <see cref="ClusterSettings.Certificate"/> (and its key) and the trust list. Anything unusable (a missing
    /// file, no private key, expired, not valid for both ends of a TLS connection) is an
    /// <see cref="OptionsValidationException"/> naming the file and the reason, before the node starts.
    /// </summary>
    public static ClusterTls Load(ClusterSettings settings, TimeProvider time)
    {
        var path = settings.Certificate ?? throw Invalid("Tally:Cluster:Certificate (--cluster-cert) is not set.");
        var certificate = Read(path, settings.CertificateKey, settings.CertificatePassword);
        var problem = Unusable(certificate, time.GetUtcNow());
        if (problem is not null)
        {
            throw Invalid($"The cluster certificate {path} {problem}.");
        }
        var anchors = new X509Certificate2Collection(X509CertificateLoader.LoadCertificate(certificate.RawData));
        if (settings.Trust is { Length: > 0 } trust)
        {
            try
            {
                var before = anchors.Count;
                anchors.ImportFromPemFile(trust);
                if (anchors.Count == before)
                {
                    throw Invalid($"The cluster trust file {trust} holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw Invalid($"The cluster trust file {trust} cannot be read: {e.Message}");
            }
        }
        return new ClusterTls(certificate, anchors, time);
    }

    /// <summary>
    /// Whether a peer may talk to this node: its certificate is one of the trusted ones, byte for byte, or chains to
    /// one of them; and it is within its validity period. The host name is not checked: nodes are addressed by IP and
    /// share one identity, the cluster's.
    /// </summary>
    public bool Admits(X509Certificate2 peer)
    {
        var now = _time.GetUtcNow();
        if (now < peer.NotBefore.ToUniversalTime() || now > peer.NotAfter.ToUniversalTime())
        {
            return false;
        }
        foreach (var anchor in _anchors)
        {
            if (anchor.RawData.AsSpan().SequenceEqual(peer.RawData))
            {
                return true;
            }
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_anchors);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        return chain.Build(peer);
    }

    /// <summary>
    /// A new self-signed cluster certificate (ECDSA P-256, valid for both ends of a TLS connection) for
    /// <c>tally cluster-cert</c>: every node gets the same certificate and key.
    /// </summary>
    public static X509Certificate2 Create(string name, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuth), new Oid(ClientAuth)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now + validity);
    }

    private static X509Certificate2 Read(string path, string? keyPath, string? password)
    {
        try
        {
            if (!File.Exists(path))
            {
                throw Invalid($"The cluster certificate {path} does not exist.");
            }
            X509Certificate2 loaded;
            var text = File.ReadAllText(path);
            if (keyPath is not { Length: > 0 } && text.Contains("-----BEGIN CERTIFICATE", StringComparison.Ordinal) && !text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            {
                // A PEM certificate alone: loaded, so the check after says what is missing (its key) rather than a parser.
                return X509CertificateLoader.LoadCertificateFromFile(path);
            }
            if (keyPath is { Length: > 0 } || text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                loaded = password is { Length: > 0 }
                    ? X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath is { Length: > 0 } ? keyPath : null)
                    : X509Certificate2.CreateFromPemFile(path, keyPath is { Length: > 0 } ? keyPath : null);
                // A key made from PEM is ephemeral, which TLS on Windows cannot use: the PKCS#12 round trip gives it a home.
                using (loaded)
                {
                    return X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pkcs12), null);
                }
            }
            return X509CertificateLoader.LoadPkcs12FromFile(path, password);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw Invalid($"The cluster certificate {path}{(keyPath is { Length: > 0 } ? $" with key {keyPath}" : "")} cannot be loaded: {e.Message}");
        }
    }

    private static string? Unusable(X509Certificate2 certificate, DateTimeOffset now)
    {
        if (!certificate.HasPrivateKey)
        {
            return "has no private key: give its key file with --cluster-key (Tally:Cluster:CertificateKey)";
        }
        if (now > certificate.NotAfter.ToUniversalTime())
        {
            return $"expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC";
        }
        if (now < certificate.NotBefore.ToUniversalTime())
        {
            return $"is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC";
        }
        // Each node is the server of the connections it accepts and the client of those it opens.
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault()?.EnhancedKeyUsages;
        if (usages is not null && !(usages.Cast<Oid>().Any(o => o.Value == ServerAuth) && usages.Cast<Oid>().Any(o => o.Value == ClientAuth)))
        {
            return "is not valid for both TLS server and client authentication (its extended key usage lacks one)";
        }
        return null;
    }

    private static OptionsValidationException Invalid(string message) => new("Tally:Cluster", typeof(TallyOptions), [message]);
}
