using System.Net;

namespace Tally.Cli.Tests;

/// <summary>
/// <c>dotnet tool install --global tally</c>: the package the project packs, installed from a local feed as a user
/// would, then used: --version, a meter run, and a server that serves the dashboard.
/// </summary>
[Collection(InstallCollection.Name)]
public sealed class ToolPackageTests(InstallBuild build)
{
    [Fact]
    public async Task Pack_InstalledFromFeed_RunsVersionMeterAndServeWithDashboard()
    {
        var feed = build.NewFolder("feed");
        build.Dotnet("pack", "src/Tally.Cli", "-c", "Release", "-o", feed);
        var package = Assert.Single(Directory.GetFiles(feed, "*.nupkg"));
        Assert.Equal("tally.0.1.0.nupkg", Path.GetFileName(package));

        // Only the local feed: a package of the same name on nuget.org must not be the one installed.
        var config = Path.Combine(feed, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        // `dotnet tool install --global`, as docs/install.md says, for a user whose home is a temp folder: global
        // tools land in $HOME/.dotnet/tools (DOTNET_CLI_HOME), and the machine's own tools are never touched.
        var home = build.NewFolder("home");
        var install = ChildProcess.StartInfo("dotnet", ["tool", "install", "--global", "tally", "--configfile", config, "--version", "0.1.0"]);
        InstallBuild.Quiet(install);
        install.Environment["HOME"] = home;
        install.Environment["DOTNET_CLI_HOME"] = home;
        install.Environment["NUGET_PACKAGES"] = Path.Combine(home, ".nuget", "packages");
        var installed = ChildProcess.Run(install, null);
        Assert.True(installed.ExitCode == 0, installed.Stdout + installed.Stderr);
        var tally = Path.Combine(home, ".dotnet", "tools", "tally");

        var version = ChildProcess.Run(tally, ["--version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.StartsWith("0.1.0", version.Stdout.Trim());

        // The installed tool meters a log exactly as the build next to the tests does.
        var work = build.NewFolder("tool-work");
        var events = Path.Combine(work, "events.csv");
        Assert.Equal(0, ChildProcess.Run(tally, ["generate", "--events", "3000", "--users", "25", "--apps", "4", "--out", events]).ExitCode);
        var meter = ChildProcess.Run(tally, ["meter", events, "--format", "json"]);
        Assert.True(meter.ExitCode == 0, meter.Stderr);
        Assert.Contains("\"units\"", meter.Stdout);
        Assert.Equal(TallyProcess.Run(null, "meter", events, "--format", "json").Stdout, meter.Stdout);

        var port = Ports.Free();
        var serve = ChildProcess.StartInfo(tally, ["serve", "--data", Path.Combine(work, "data"), "--urls", ServerProcess.Urls(port)], work);
        using var server = await ServerProcess.StartAsync(serve, port);
        await server.DashboardAsync();
        Assert.True(File.Exists(Path.Combine(work, "data", "tally.db")), "the ledger is not in --data");
        var health = ChildProcess.Run(tally, ["health", "--url", $"{server.Address}health/ready"]);
        Assert.True(health.ExitCode == 0, health.Stdout + health.Stderr);
        Assert.Contains("ready", health.Stdout);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("/no-such-page")).StatusCode);
    }
}
