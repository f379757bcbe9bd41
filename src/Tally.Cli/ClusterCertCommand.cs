using System.CommandLine;
using System.Security.Cryptography.X509Certificates;
using Tally.Cluster;

namespace Tally.Cli;

/// <summary>
/// <c>tally cluster-cert</c>: makes the certificate a cluster's nodes share for their mutual TLS
/// (<c>tally serve --cluster --cluster-cert cluster.crt --cluster-key cluster.key</c>), so a cluster needs no
/// OpenSSL recipe and no certificate authority to start.
/// </summary>
internal static class ClusterCertCommand
{
    public const string CertificateFileName = "cluster.crt", KeyFileName = "cluster.key";

    public static Command Create() => Create(TimeProvider.System);

    internal static Command Create(TimeProvider time)
    {
        var output = new Option<string>("--out") { Description = $"Folder for {CertificateFileName} and {KeyFileName} (owner read/write only); copy both to every node.", Required = true };
        var name = new Option<string>("--name") { Description = "The certificate's common name, shown in TLS logs.", DefaultValueFactory = _ => "tally-cluster" };
        var days = new Option<int>("--days") { Description = "Days the certificate is valid; make a new one and roll it out (--cluster-trust with old and new) before then.", DefaultValueFactory = _ => 825 };
        days.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 36_500)
            {
                result.AddError("--days must be between 1 and 36500.");
            }
        });
        var force = new Option<bool>("--force") { Description = "Overwrite existing files: nodes still on the old certificate can no longer talk to nodes on the new one." };
        var command = new Command("cluster-cert", "Create the certificate and key the nodes of a cluster share for mutual TLS between them (tally serve --cluster --cluster-cert ... --cluster-key ...).")
        {
            output, name, days, force,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(output)!;
            var certificatePath = Path.Combine(dir, CertificateFileName);
            var keyPath = Path.Combine(dir, KeyFileName);
            var error = parse.InvocationConfiguration.Error;
            if (!parse.GetValue(force) && (File.Exists(certificatePath) || File.Exists(keyPath)))
            {
                error.WriteLine($"{dir} already holds a cluster certificate; refusing to overwrite it (use --force to replace it)");
                return 2;
            }
            var commonName = parse.GetValue(name)!;
            if (commonName.Length is 0 or > 64 || commonName.Any(c => char.IsControl(c) || c is ',' or '=' or '+' or '"' or '\\' or '<' or '>' or ';'))
            {
                error.WriteLine("--name must be 1 to 64 characters without control characters or any of , = + \" \\ < > ;");
                return 2;
            }
            return LicenseCommand.Guard(error, () =>
            {
                Directory.CreateDirectory(dir);
                using var certificate = ClusterTls.Create(commonName, time.GetUtcNow(), TimeSpan.FromDays(parse.GetValue(days)));
                using var key = certificate.GetECDsaPrivateKey()!;
                LicenseCommand.WriteSecret(keyPath, key.ExportPkcs8PrivateKeyPem());
                File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
                var printed = parse.InvocationConfiguration.Output;
                printed.WriteLine($"wrote {certificatePath} and {keyPath} (owner read/write only), valid until {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd} UTC");
                printed.WriteLine($"copy both to every node and start each with --cluster-cert {certificatePath} --cluster-key {keyPath}");
                return 0;
            });
        });
        return command;
    }
}
