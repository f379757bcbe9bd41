using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tally.Cli.Tests;

/// <summary><c>tally serve</c> as an operator meets it: the real process on real loopback ports.</summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-serve-").FullName;

    [Fact]
    public void Serve_PortInUse_OneLineAndExit2_AndTheBootstrapKeyIsShownOnTheNextStart()
    {
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var url = $"http://127.0.0.1:{port}";
        var data = Path.Combine(_dir, "data");
        ChildProcess.Result refused;
        try
        {
            refused = TallyProcess.Run(null, "serve", "--urls", url, "--data", data);
        }
        finally
        {
            taken.Stop();
        }

        Assert.Equal(2, refused.ExitCode);
        Assert.Equal($"tally serve: cannot listen on {url}: the address is already in use (is another Tally running?). Stop what holds it or choose another address with --urls.",
            refused.Stderr.Trim());
        Assert.DoesNotContain("Bootstrap admin key", refused.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("ready", refused.Stdout, StringComparison.Ordinal);

        // The failed start used up nothing: the next one, on a free port, shows the one bootstrap key.
        var line = FirstLineContaining("Bootstrap admin key", "serve", "--urls", url, "--data", data);
        Assert.Matches(@"^Bootstrap admin key \(shown once, store it now\): tally_\S+$", line);
    }

    /// <summary>Starts tally, returns the first stdout line containing <paramref name="text"/>, and stops the process.</summary>
    private static string FirstLineContaining(string text, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "tally.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } data && data.Contains(text, StringComparison.Ordinal))
            {
                found.TrySetResult(data);
            }
        };
        process.Exited += (_, _) => found.TrySetException(new InvalidOperationException($"tally exited ({process.ExitCode}) before printing '{text}'"));
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            return found.Task.WaitAsync(TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
    }
}
