using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tally.Import.Tests.Qrs;

/// <summary>
/// The certificates of a QSEoW site, made at run time: the site's own root CA, a server certificate for the loopback
/// server, a client certificate as the QMC exports it, one that expired, and one from a CA the site does not know.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public TestCertificates(DateTimeOffset now)
    {
        Root = SelfSignedCa("CN=Test QSEoW CA", now);
        Server = Issue(Root, "CN=localhost", now.AddDays(-1), now.AddDays(30), serverAuth: true);
        Client = Issue(Root, "CN=QlikClient", now.AddDays(-1), now.AddDays(30), serverAuth: false);
        ExpiredClient = Issue(Root, "CN=QlikClient expired", now.AddDays(-30), now.AddDays(-1), serverAuth: false);
        StrangerRoot = SelfSignedCa("CN=Some other CA", now);
        StrangerClient = Issue(StrangerRoot, "CN=QlikClient of another site", now.AddDays(-1), now.AddDays(30), serverAuth: false);
    }

    public X509Certificate2 Root { get; }
    public X509Certificate2 Server { get; }
    public X509Certificate2 Client { get; }
    public X509Certificate2 ExpiredClient { get; }
    public X509Certificate2 StrangerRoot { get; }
    public X509Certificate2 StrangerClient { get; }

    /// <summary>Whether <paramref name="certificate"/> chains to <see cref="Root"/> and is valid now (how the site's proxy judges one).</summary>
    public bool IsIssuedBySite(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private static X509Certificate2 SelfSignedCa(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return Reloaded(request.CreateSelfSigned(now.AddDays(-60), now.AddDays(60)));
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, string name, DateTimeOffset notBefore, DateTimeOffset notAfter, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [Oid.FromOidValue(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2", OidGroup.EnhancedKeyUsage)], false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(issuer, notBefore, notAfter, serial);
        return Reloaded(issued.CopyWithPrivateKey(key));
    }

    // A PKCS#12 round trip gives the key a form every platform's TLS stack accepts for a server or client certificate.
    private static X509Certificate2 Reloaded(X509Certificate2 certificate)
    {
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }

    public void Dispose()
    {
        foreach (var certificate in new[] { Root, Server, Client, ExpiredClient, StrangerRoot, StrangerClient })
        {
            certificate.Dispose();
        }
    }
}
