using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Configuration;
using Tally.Cluster;
using Tally.Server;
using Tally.Server.Demo;

namespace Tally.Cli;

/// <summary><c>tally serve</c>: the multi-tenant metering server (ASP.NET Core) on a SQLite ledger, or PostgreSQL with --database.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "Folder for the SQLite ledger (tally.db); created when missing. Default: ./data (or Tally:Data from configuration); a Windows service: %ProgramData%\\Tally\\data." };
        var database = new Option<string?>("--database")
        {
            Description = "PostgreSQL connection string (Host=...;Database=...;Username=...;Password=...): keep the ledger there instead of SQLite in --data. Or Tally:Database / Tally__Database.",
        };
        var publicKey = new Option<string?>("--public-key") { Description = "PEM file with the vendor's public key, used to verify licenses installed with PUT /api/v1/license." };
        var synchronous = new Option<string?>("--synchronous")
        {
            Description = "SQLite durability: Normal (default) survives a process crash (kill -9); Full also survives power loss, at an fsync per commit.",
        };
        synchronous.AcceptOnlyFromAmong("Normal", "Full", "normal", "full");
        var demo = new Option<bool>("--demo")
        {
            Description = "Also run a demo: a tenant 'demo' with a license signed by a demo key kept in DATA/demo, last month and this month so far of generated usage, and live activity; prints the dashboard address and a read key.",
        };
        var cluster = new Option<bool>("--cluster")
        {
            Description = "Run as one node of a cluster (needs --database PostgreSQL): every node answers every tenant, each tenant's meter lives on one node, and a dead node's tenants move to the others (docs/scaling.md). Or Tally:Cluster:Enabled.",
        };
        var siloPort = new Option<int?>("--silo-port") { Description = "With --cluster: the port the nodes talk to each other on (default 11111). Or Tally:Cluster:SiloPort." };
        var advertise = new Option<string?>("--advertise")
        {
            Description = "With --cluster: the IP address the other nodes reach this one at (default: the host's first non-loopback IPv4 address). Or Tally:Cluster:AdvertisedAddress.",
        };
        var clusterCert = new Option<string?>("--cluster-cert")
        {
            Description = "With --cluster: the node's certificate (PEM, or PKCS#12 with Tally__Cluster__CertificatePassword); the nodes talk over mutual TLS and admit only peers with a trusted certificate. Make one with `tally cluster-cert`. Required unless --advertise is a loopback address. Or Tally:Cluster:Certificate.",
        };
        var clusterKey = new Option<string?>("--cluster-key") { Description = "With --cluster-cert: its PEM private key file. Or Tally:Cluster:CertificateKey." };
        var clusterTrust = new Option<string?>("--cluster-trust")
        {
            Description = "With --cluster-cert: PEM file of the certificates a peer may present or chain to (a cluster CA, or old and new while rotating); default: only the node's own certificate. Or Tally:Cluster:Trust.",
        };
        var command = new Command("serve", "Run the Tally server. ASP.NET Core flags such as --urls http://0.0.0.0:5000 pass through; the bootstrap admin key comes from TALLY_ADMIN_KEY or is generated and printed once.")
        {
            data, database, publicKey, synchronous, demo, cluster, siloPort, advertise, clusterCert, clusterKey, clusterTrust,
        };
        // --urls and other host settings (--Logging:LogLevel:Default=Warning, ...) go straight to ASP.NET configuration.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellation) =>
        {
            var args = new List<string>();
            // Only flags given on the command line are passed, so appsettings.json and Tally__* variables still apply otherwise.
            foreach (var (option, name) in new[] { (data, "--data"), (database, "--database"), (publicKey, "--public-key"), (synchronous, "--synchronous"), (advertise, "--advertise"),
                (clusterCert, "--cluster-cert"), (clusterKey, "--cluster-key"), (clusterTrust, "--cluster-trust") })
            {
                if (parse.GetValue(option) is { } value)
                {
                    args.Add(name);
                    args.Add(value);
                }
            }
            if (parse.GetValue(siloPort) is { } port)
            {
                args.AddRange(["--silo-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }
            if (parse.GetValue(cluster))
            {
                args.Add("--Tally:Cluster:Enabled=true");
            }
            args.AddRange(parse.UnmatchedTokens);
            var withDemo = parse.GetValue(demo);
            try
            {
                await using var app = TallyServer.Build([.. args], builder =>
                {
                    // The flag or the configuration (Tally__Cluster__Enabled): either makes this process a node.
                    var clustered = builder.Configuration.GetValue<bool>("Tally:Cluster:Enabled");
                    if (clustered && withDemo)
                    {
                        throw new OptionsValidationException("--demo", typeof(TallyOptions),
                            ["--demo runs on one node: leave out --cluster (and Tally:Cluster:Enabled) to try Tally with its demo."]);
                    }
                    if (clustered)
                    {
                        builder.AddTallyCluster();
                    }
                    if (withDemo)
                    {
                        builder.AddTallyDemo(DemoHistory.Month);
                    }
                });
                if (ListenAddresses.FirstUnavailable(app.Configuration) is { } unavailable)
                {
                    await Console.Error.WriteLineAsync($"tally serve: cannot listen on {unavailable}. Stop what holds it or choose another address with --urls.");
                    return 2;
                }
                await app.StartAsync(cancellation);
                // Ctrl+C / SIGTERM: the host stops gracefully; the writer loops drain and commit before exit.
                await app.WaitForShutdownAsync(cancellation);
                return 0;
            }
            catch (OptionsValidationException e)
            {
                await Console.Error.WriteLineAsync("tally serve: invalid configuration:");
                foreach (var failure in e.Failures)
                {
                    await Console.Error.WriteLineAsync("  " + failure);
                }
                return 2;
            }
            catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                // Taken between the check above and the start (the host has logged the details).
                await Console.Error.WriteLineAsync($"tally serve: {e.Message} Stop what holds it or choose another address with --urls.");
                return 2;
            }
            catch (Tally.Storage.LedgerOpenException e)
            {
                // The operator's to fix, and the message says how: no stack trace in the way.
                await Console.Error.WriteLineAsync("tally serve: " + e.Message);
                return 2;
            }
        });
        return command;
    }
}
