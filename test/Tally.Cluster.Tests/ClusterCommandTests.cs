using System.Security.Cryptography.X509Certificates;

namespace Tally.Cluster.Tests;

/// <summary>
/// The cluster's command line as an operator meets it: <c>tally cluster-cert</c>, and what <c>tally serve --cluster</c>
/// refuses to start with (exit code 2 and the reason), all before any database is reached.
/// </summary>
public sealed class ClusterCommandTests : IDisposable
{
    // Nothing listens on port 9 (discard): a node that got as far as the database would fail differently.
    private const string UnreachableDatabase = "Host=127.0.0.1;Port=9;Database=tally;Username=tally;Timeout=2";
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-cluster-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ClusterCert_WritesACertificateAndAnOwnerOnlyKey_AndKeepsThemUnlessForced()
    {
        var made = TallyProcess.Run(null, "cluster-cert", "--out", _dir, "--name", "acme-tally", "--days", "30");

        Assert.True(made.ExitCode == 0, made.Stderr);
        var certificate = X509Certificate2.CreateFromPemFile(Path.Combine(_dir, "cluster.crt"), Path.Combine(_dir, "cluster.key"));
        Assert.Equal("CN=acme-tally", certificate.Subject);
        Assert.True(certificate.HasPrivateKey);
        Assert.InRange((certificate.NotAfter.ToUniversalTime() - TimeProvider.System.GetUtcNow().UtcDateTime).TotalDays, 29, 31);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "cluster.key")));
        }

        var again = TallyProcess.Run(null, "cluster-cert", "--out", _dir);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("refusing to overwrite", again.Stderr);
        Assert.Equal(certificate.RawData, X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_dir, "cluster.crt")).RawData);

        var forced = TallyProcess.Run(null, "cluster-cert", "--out", _dir, "--force");
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.NotEqual(certificate.RawData, X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_dir, "cluster.crt")).RawData);

        var badName = TallyProcess.Run(null, "cluster-cert", "--out", Path.Combine(_dir, "other"), "--name", "a,CN=b");
        Assert.Equal(2, badName.ExitCode);
        Assert.Contains("--name", badName.Stderr);
    }

    [Fact]
    public void Serve_Cluster_RefusesWhatCannotFormASafeCluster()
    {
        Refused(["--cluster"], "needs Tally:Database (--database)");
        // Reachable from other machines (the default address) without a certificate: the silo port would be open to anyone.
        Refused(["--cluster", "--database", UnreachableDatabase], "Tally:Cluster:Certificate (--cluster-cert) is required");
        Refused(["--cluster", "--database", UnreachableDatabase, "--advertise", "10.0.0.7"], "tally cluster-cert --out DIR");
        Refused(["--cluster", "--database", UnreachableDatabase, "--advertise", "127.0.0.1", "--cluster-key", Path.Combine(_dir, "k.pem")],
            "need Tally:Cluster:Certificate (--cluster-cert)");
        var missing = Path.Combine(_dir, "missing.crt");
        Refused(["--cluster", "--database", UnreachableDatabase, "--advertise", "127.0.0.1", "--cluster-cert", missing], $"{missing} does not exist");
        Refused(["--cluster", "--database", UnreachableDatabase, "--advertise", "127.0.0.1", "--demo"], "--demo runs on one node");
    }

    private void Refused(string[] flags, string reason)
    {
        var run = TallyProcess.Run(null, ["serve", "--data", Path.Combine(_dir, "data"), "--urls", "http://127.0.0.1:0", .. flags]);
        Assert.True(run.ExitCode == 2, $"{string.Join(' ', flags)}: exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains(reason, run.Stderr);
    }
}
