using System.Diagnostics;

namespace Tally.Cli.Tests;

[CollectionDefinition(Name)]
public sealed class InstallCollection : ICollectionFixture<InstallBuild>
{
    // One at a time: each install test builds or starts a server, and the machine may have two cores.
    public const string Name = "install";
}

/// <summary>
/// Builds Tally from the work tree the ways docs/install.md installs it, into one temp folder shared by the install
/// tests. <c>--artifacts-path</c> keeps every build's bin and obj there, so the work tree's own build output is never
/// touched and the projects every variant shares compile once.
/// </summary>
public sealed class InstallBuild : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("tally-install-").FullName;

    public InstallBuild()
    {
        // Readable by others (a temp folder starts as 0700): one test runs the published server as an unprivileged user.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_root, (UnixFileMode)Convert.ToInt32("755", 8));
        }
    }

    public string Artifacts => Path.Combine(_root, "artifacts");

    /// <summary>A new empty folder under this fixture's temp folder (deleted with it).</summary>
    public string NewFolder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    /// <summary>Runs <c>dotnet ARGS --artifacts-path ...</c> in the work tree; fails the test with its output if it fails.</summary>
    public void Dotnet(params string[] args)
    {
        var start = ChildProcess.StartInfo("dotnet", [.. args, "--artifacts-path", Artifacts, "--nologo"], Repository.Root);
        Quiet(start);
        var clock = Stopwatch.StartNew();
        var result = ChildProcess.Run(start, null, TimeSpan.FromMinutes(6));
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed ({result.ExitCode}) after {clock.Elapsed}:\n{result.Stdout}\n{result.Stderr}");
    }

    /// <summary>
    /// The dotnet CLI without its first-run banner and telemetry, without the MSBuild settings of the test run that
    /// started it (a nested build must find its own SDK), and without build servers: no MSBuild node or compiler server
    /// started by a test outlives it.
    /// </summary>
    public static void Quiet(ProcessStartInfo start)
    {
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
