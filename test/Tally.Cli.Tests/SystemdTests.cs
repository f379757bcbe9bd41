using System.Diagnostics;
using System.Net.Sockets;
using System.Net;
using System.Runtime.Versioning;
using System.Text;

namespace Tally.Cli.Tests;

/// <summary>
/// deploy/tally.service: systemd's own checker accepts it, and its ExecStart, started the way systemd starts a
/// Type=notify service, tells systemd READY=1 only once the server is ready and STOPPING=1 when told to stop.
/// </summary>
[Collection(InstallCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class SystemdTests(InstallBuild build)
{
    private static readonly string UnitFile = Repository.PathOf("deploy/tally.service");

    [Fact]
    public void UnitFile_SystemdAnalyzeVerify_AcceptsIt()
    {
        // verify insists that ExecStart's program exists: the unit as shipped, pointed at a real tally executable.
        var unit = Unit.Read(UnitFile);
        var folder = build.NewFolder("unit-verify");
        var copy = Path.Combine(folder, "tally.service");
        File.WriteAllText(copy, File.ReadAllText(UnitFile).Replace(unit.ExecStart[0], Path.Combine(AppContext.BaseDirectory, "tally"), StringComparison.Ordinal));

        var verify = ChildProcess.Run("systemd-analyze", ["verify", copy]);
        // Exit code 0 even for unknown keys and bad values, which it only reports: so nothing may be reported.
        Assert.True(verify.ExitCode == 0 && verify.Stdout.Length == 0 && verify.Stderr.Length == 0, verify.Stdout + verify.Stderr);
    }

    [Fact]
    public void UnitFile_StatesWhatTallyNeeds()
    {
        var unit = Unit.Read(UnitFile);
        Assert.Equal("notify", unit.Single("Type"));
        Assert.NotEqual("root", unit.Single("User"));
        Assert.Equal(["/opt/tally/tally", "serve"], unit.ExecStart[..2]);
        // The data folder is the state directory systemd creates, owns for the user and keeps writable.
        Assert.Equal("/var/lib/" + unit.Single("StateDirectory"), unit.Argument("--data"));
        Assert.Equal("DOTNET_BUNDLE_EXTRACT_BASE_DIR=/var/cache/" + unit.Single("CacheDirectory"), unit.Single("Environment"));
        Assert.Equal("strict", unit.Single("ProtectSystem"));
        Assert.Equal("yes", unit.Single("NoNewPrivileges"));
        // .NET's JIT needs writable code pages, and .NET 10 finds systemd by reading its parent in /proc.
        Assert.Empty(unit.All("MemoryDenyWriteExecute"));
        Assert.Empty(unit.All("ProtectProc"));
    }

    [Fact]
    public async Task ExecStart_StartedBySystemd_SendsReadyOnceReadyAndStoppingOnSigterm()
    {
        var unit = Unit.Read(UnitFile);
        var folder = build.NewFolder("unit-notify");
        var port = Ports.Free();
        // The unit's own arguments, with its paths and address moved into this test's folder and port.
        var args = unit.ExecStart.Skip(1).Select(a => a
            .Replace("/var/lib/tally", Path.Combine(folder, "data"), StringComparison.Ordinal)
            .Replace("http://0.0.0.0:5000", ServerProcess.Urls(port), StringComparison.Ordinal)).ToList();
        Assert.Equal(ServerProcess.Urls(port), args[args.IndexOf("--urls") + 1]);

        var socketPath = Path.Combine(folder, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));

        // .NET 10 takes a process for a systemd service when its parent is named "systemd". coreutils' timeout, copied
        // under that name, is such a parent: it starts the server as its child, waits, and passes SIGTERM on.
        var systemd = Path.Combine(folder, "systemd");
        File.Copy("/usr/bin/timeout", systemd);
        File.SetUnixFileMode(systemd, File.GetUnixFileMode("/usr/bin/timeout"));
        var start = ChildProcess.StartInfo(systemd, ["300", "dotnet", Path.Combine(AppContext.BaseDirectory, "tally.dll"), .. args], folder);
        start.Environment["NOTIFY_SOCKET"] = socketPath;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var parent = Process.Start(start)!;
        var output = new StringBuilder();
        parent.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        parent.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        parent.BeginOutputReadLine();
        parent.BeginErrorReadLine();
        try
        {
            Assert.Equal("READY=1", await ReceiveAsync(notify, output));
            // Ready means ready: the first request after READY=1 is answered, and the ledger is where the unit says.
            using var http = new HttpClient { BaseAddress = new Uri(ServerProcess.Urls(port)) };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
            Assert.True(File.Exists(Path.Combine(folder, "data", "tally.db")));

            Assert.Equal(0, ChildProcess.Run("kill", ["-TERM", parent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExitCode);
            Assert.Equal("STOPPING=1", await ReceiveAsync(notify, output));
            Assert.True(parent.WaitForExit(TimeSpan.FromSeconds(60)), "tally serve did not stop on SIGTERM");
            Assert.True(parent.ExitCode == 0, $"exit code {parent.ExitCode}:\n{output}");
        }
        finally
        {
            if (!parent.HasExited)
            {
                parent.Kill(entireProcessTree: true);
                parent.WaitForExit();
            }
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket, StringBuilder output)
    {
        var buffer = new byte[4096];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            var length = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (OperationCanceledException)
        {
            lock (output)
            {
                throw new TimeoutException("nothing was sent to NOTIFY_SOCKET:\n" + output);
            }
        }
    }

    /// <summary>The [Service] settings of a unit file, as systemd reads the simple forms this one uses.</summary>
    private sealed record Unit(IReadOnlyList<KeyValuePair<string, string>> Settings)
    {
        public static Unit Read(string path)
        {
            var section = "";
            var settings = new List<KeyValuePair<string, string>>();
            foreach (var raw in File.ReadAllLines(path))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] is '#' or ';')
                {
                    continue;
                }
                if (line[0] == '[')
                {
                    section = line;
                    continue;
                }
                var equals = line.IndexOf('=', StringComparison.Ordinal);
                if (section == "[Service]")
                {
                    settings.Add(new(line[..equals].Trim(), line[(equals + 1)..].Trim()));
                }
            }
            return new Unit(settings);
        }

        public IEnumerable<string> All(string key) => Settings.Where(s => s.Key == key).Select(s => s.Value);

        public string Single(string key) => Assert.Single(All(key));

        /// <summary>ExecStart split on spaces: the unit quotes nothing.</summary>
        public string[] ExecStart => Single("ExecStart").Split(' ', StringSplitOptions.RemoveEmptyEntries);

        public string Argument(string flag) => ExecStart[Array.IndexOf(ExecStart, flag) + 1];
    }
}
