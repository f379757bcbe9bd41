using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tally.Server;

namespace Tally.Cluster.Tests;

/// <summary>
/// Which peer a node admits on its silo port, and which certificate files it refuses to start with. The process tests
/// (<see cref="ClusterTests"/>) show the same over real TLS connections.
/// </summary>
public sealed class ClusterTlsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-cluster-tls-").FullName;
    private readonly FakeTimeProvider _time = new(Now);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Admits_TheSameCertificateOnly_WhenNoTrustFileIsGiven()
    {
        using var mine = ClusterTls.Create("tally-cluster", Now, TimeSpan.FromDays(30));
        using var stranger = ClusterTls.Create("tally-cluster", Now, TimeSpan.FromDays(30));
        var tls = ClusterTls.Load(Settings(Write("mine", mine)), _time);

        Assert.True(tls.Admits(PublicOnly(mine)));
        // Same name, same issuer name, another key: a stranger.
        Assert.False(tls.Admits(PublicOnly(stranger)));
    }

    [Fact]
    public void Admits_APeerIssuedByATrustedAuthority_NotOneFromAnother()
    {
        using var authority = Authority("Tally cluster CA");
        using var otherAuthority = Authority("Tally cluster CA");
        using var node1 = Issue(authority, "node1");
        using var node2 = Issue(authority, "node2");
        using var outsider = Issue(otherAuthority, "node3");
        var trust = Path.Combine(_dir, "trust.pem");
        File.WriteAllText(trust, authority.ExportCertificatePem());
        var tls = ClusterTls.Load(Settings(Write("node1", node1), trust), _time);

        Assert.True(tls.Admits(PublicOnly(node2)));
        Assert.False(tls.Admits(PublicOnly(outsider)));
    }

    [Fact]
    public void Admits_BothCertificatesOfARotation_ListedInTheTrustFile()
    {
        using var old = ClusterTls.Create("tally-cluster", Now.AddDays(-100), TimeSpan.FromDays(200));
        using var next = ClusterTls.Create("tally-cluster", Now, TimeSpan.FromDays(825));
        var trust = Path.Combine(_dir, "trust.pem");
        File.WriteAllText(trust, old.ExportCertificatePem() + "\n" + next.ExportCertificatePem());
        var onNew = ClusterTls.Load(Settings(Write("next", next), trust), _time);
        var onNewAlone = ClusterTls.Load(Settings(Write("next-alone", next)), _time);

        Assert.True(onNew.Admits(PublicOnly(old)));
        Assert.False(onNewAlone.Admits(PublicOnly(old)));
    }

    [Fact]
    public void Refuses_APeerOutsideItsValidity_EvenTheSameCertificate()
    {
        using var mine = ClusterTls.Create("tally-cluster", Now, TimeSpan.FromDays(30));
        var tls = ClusterTls.Load(Settings(Write("mine", mine)), _time);

        _time.Advance(TimeSpan.FromDays(31));

        Assert.False(tls.Admits(PublicOnly(mine)));
    }

    [Fact]
    public void Load_RefusesUnusableFiles_NamingTheFileAndTheReason()
    {
        using var good = ClusterTls.Create("tally-cluster", Now, TimeSpan.FromDays(30));
        var (certificate, _) = Write("good", good);
        using var expired = ClusterTls.Create("tally-cluster", Now.AddDays(-60), TimeSpan.FromDays(30));
        using var serverOnly = WithUsages(new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") });
        var garbage = Path.Combine(_dir, "garbage.crt");
        File.WriteAllText(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");

        Assert.Contains("does not exist", Refusal(Settings((Path.Combine(_dir, "missing.crt"), null))));
        Assert.Contains("has no private key", Refusal(new ClusterSettings { Certificate = certificate }));
        Assert.Contains("expired on", Refusal(Settings(Write("expired", expired))));
        Assert.Contains("not valid for both TLS server and client authentication", Refusal(Settings(Write("server-only", serverOnly))));
        Assert.Contains($"{garbage} cannot be loaded", Refusal(new ClusterSettings { Certificate = garbage }));
        var emptyTrust = Path.Combine(_dir, "empty.pem");
        File.WriteAllText(emptyTrust, "nothing here\n");
        Assert.Contains("holds no PEM certificate", Refusal(Settings((certificate, Path.Combine(_dir, "good.key")), emptyTrust)));
    }

    private string Refusal(ClusterSettings settings) =>
        string.Join("\n", Assert.Throws<OptionsValidationException>(() => ClusterTls.Load(settings, _time)).Failures);

    private static ClusterSettings Settings((string Certificate, string? Key) files, string? trust = null) =>
        new() { Certificate = files.Certificate, CertificateKey = files.Key, Trust = trust };

    private (string Certificate, string? Key) Write(string name, X509Certificate2 certificate)
    {
        var certificatePath = Path.Combine(_dir, name + ".crt");
        var keyPath = Path.Combine(_dir, name + ".key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        using var key = certificate.GetECDsaPrivateKey()!;
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>What a peer sends: the certificate without its key.</summary>
    private static X509Certificate2 PublicOnly(X509Certificate2 certificate) => X509CertificateLoader.LoadCertificate(certificate.RawData);

    private static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(365));
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        using var issued = request.Create(authority, Now.AddDays(-1), Now.AddDays(90), RandomNumberGenerator.GetBytes(8));
        return issued.CopyWithPrivateKey(key);
    }

    private static X509Certificate2 WithUsages(OidCollection usages)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=server-only", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        return request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(30));
    }
}
