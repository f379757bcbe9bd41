using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Tally.TestSupport;

/// <summary>
/// A <c>tally serve</c> in whichever form it was installed (dotnet tally.dll, a .NET tool, a single file, run as another
/// user) as a child process on a free loopback port. Disposing kills it and everything it started.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();

    private ServerProcess(Process process, Uri address)
    {
        Process = process;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Process Process { get; }
    public Uri Address { get; }
    public HttpClient Http { get; }
    public string Output => string.Join('\n', _output);


    public static string Urls(int port) => $"http://127.0.0.1:{port}";

    /// <summary>Starts <paramref name="start"/> (which listens on <paramref name="port"/>) and waits for /health/ready.</summary>
    public static async Task<ServerProcess> StartAsync(ProcessStartInfo start, int port)
    {
        var server = Launch(start, port);
        try
        {
            await server.WaitReadyAsync(TimeSpan.FromSeconds(90));
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Starts <paramref name="start"/> and collects its output, without waiting for it to be ready (or ever to be).</summary>
    public static ServerProcess Launch(ProcessStartInfo start, int port)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var server = new ServerProcess(Process.Start(start)!, new Uri(Urls(port)));
        server.Process.OutputDataReceived += (_, e) => server._output.Enqueue(e.Data ?? "");
        server.Process.ErrorDataReceived += (_, e) => server._output.Enqueue(e.Data ?? "");
        server.Process.BeginOutputReadLine();
        server.Process.BeginErrorReadLine();
        return server;
    }

    private async Task WaitReadyAsync(TimeSpan limit)
    {
        try
        {
            await Eventually.Until(async () =>
            {
                Assert.False(Process.HasExited, $"tally serve exited ({(Process.HasExited ? Process.ExitCode : 0)}):\n{Output}");
                try
                {
                    return (await Http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false; // not listening yet
                }
                catch (TaskCanceledException)
                {
                    return false; // listening but busy starting
                }
            }, $"tally serve at {Address} to answer /health/ready", limit);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{Output}", e);
        }
    }

    /// <summary>The dashboard's page, as the installed server serves it.</summary>
    public async Task<string> DashboardAsync()
    {
        using var response = await Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<script type=\"module\" src=\"/dashboard/js/main.js\"", html);
        // The script's modules, the one the page names and every one it imports, all served as JavaScript.
        var modules = new Queue<string>(["main.js"]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (modules.TryDequeue(out var name))
        {
            if (!seen.Add(name))
            {
                continue;
            }
            using var script = await Http.GetAsync("/dashboard/js/" + name);
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
            var text = await script.Content.ReadAsStringAsync();
            Assert.True(text.Length > 500, $"the dashboard's module {name} is missing or empty");
            foreach (System.Text.RegularExpressions.Match import in System.Text.RegularExpressions.Regex.Matches(text, @"from ""\./([a-z]+\.js)"""))
            {
                modules.Enqueue(import.Groups[1].Value);
            }
        }
        Assert.True(seen.Count >= 5, $"the page's modules: {string.Join(", ", seen)}");
        return html;
    }

    public void Dispose()
    {
        Http.Dispose();
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
        }
        Process.WaitForExit();
        Process.Dispose();
    }
}
