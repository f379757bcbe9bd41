using System.Runtime.Versioning;

namespace Tally.Cli.Tests;

/// <summary>
/// The self-contained single file (<c>dotnet publish src/Tally.Cli -c Release -r RID</c>): one file that needs no .NET
/// where it runs and carries SQLite's native library and the dashboard inside it.
/// </summary>
[Collection(InstallCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class SingleFileTests(InstallBuild build)
{
    [Fact]
    public async Task LinuxX64_TheFileAloneInAnEmptyFolder_RunsAndServesTheDashboard()
    {
        var published = build.NewFolder("linux-x64");
        build.Dotnet("publish", "src/Tally.Cli", "-c", "Release", "-r", "linux-x64", "-o", published);
        Assert.Equal(new[] { "tally" }, Directory.GetFileSystemEntries(published).Select(Path.GetFileName));

        var alone = build.NewFolder("linux-x64-alone");
        var tally = Path.Combine(alone, "tally");
        File.Copy(Path.Combine(published, "tally"), tally);
        File.SetUnixFileMode(tally, File.GetUnixFileMode(Path.Combine(published, "tally")));
        // Where the file unpacks its native library (the systemd unit points this at its CacheDirectory).
        var extract = build.NewFolder("linux-x64-extract");

        var version = Run(tally, extract, "--version");
        Assert.Equal(0, version.ExitCode);
        Assert.StartsWith("0.1.0", version.Stdout.Trim());

        var data = Path.Combine(build.NewFolder("linux-x64-elsewhere"), "data");
        var port = Ports.Free();
        var serve = ChildProcess.StartInfo(tally, ["serve", "--data", data, "--urls", ServerProcess.Urls(port)], alone);
        serve.Environment["DOTNET_BUNDLE_EXTRACT_BASE_DIR"] = extract;
        using (var server = await ServerProcess.StartAsync(serve, port))
        {
            await server.DashboardAsync();
        }
        Assert.True(File.Exists(Path.Combine(data, "tally.db")), "the ledger is not in --data");
        Assert.Single(Directory.GetFiles(extract, "libe_sqlite3.so", SearchOption.AllDirectories));
        // Nothing was written beside the file: everything went to --data and the extraction folder.
        Assert.Equal(new[] { tally }, Directory.GetFileSystemEntries(alone));
    }

    [Fact]
    public void WinX64_PublishesOneWindowsExecutable()
    {
        var published = build.NewFolder("win-x64");
        build.Dotnet("publish", "src/Tally.Cli", "-c", "Release", "-r", "win-x64", "-o", published);

        var exe = Path.Combine(published, "tally.exe");
        using var file = File.OpenRead(exe);
        var header = new byte[0x40];
        file.ReadExactly(header);
        Assert.Equal("MZ"u8.ToArray(), header[..2]);
        // The PE header, where the MZ header's last field points, names the machine: AMD64 (0x8664).
        file.Position = BitConverter.ToInt32(header, 0x3C);
        var pe = new byte[6];
        file.ReadExactly(pe);
        Assert.Equal("PE\0\0"u8.ToArray(), pe[..4]);
        Assert.Equal(0x8664, BitConverter.ToUInt16(pe, 4));
        // Self-contained in one file: the runtime and the assemblies are inside it, nothing beside it.
        Assert.True(file.Length > 50_000_000, $"tally.exe is only {file.Length} bytes");
        Assert.Equal(new[] { "tally.exe" }, Directory.GetFileSystemEntries(published).Select(Path.GetFileName));
    }

    private static ChildProcess.Result Run(string tally, string extract, params string[] args)
    {
        var start = ChildProcess.StartInfo(tally, args);
        start.Environment["DOTNET_BUNDLE_EXTRACT_BASE_DIR"] = extract;
        return ChildProcess.Run(start, null);
    }
}
