using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
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
        var command = new Command("serve", "Run the Tally server. ASP.NET Core flags such as --urls http://0.0.0.0:5000 pass through; the bootstrap admin key comes from TALLY_ADMIN_KEY or is generated and printed once.")
        {
            data, database, publicKey, synchronous, demo,
        };
        // --urls and other host settings (--Logging:LogLevel:Default=Warning, ...) go straight to ASP.NET configuration.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellation) =>
        {
            var args = new List<string>();
            // Only flags given on the command line are passed, so appsettings.json and Tally__* variables still apply otherwise.
            foreach (var (option, name) in new[] { (data, "--data"), (database, "--database"), (publicKey, "--public-key"), (synchronous, "--synchronous") })
            {
                if (parse.GetValue(option) is { } value)
                {
                    args.Add(name);
                    args.Add(value);
                }
            }
            args.AddRange(parse.UnmatchedTokens);
            try
            {
                await using var app = TallyServer.Build([.. args], parse.GetValue(demo) ? b => b.AddTallyDemo(DemoHistory.Month) : null);
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
