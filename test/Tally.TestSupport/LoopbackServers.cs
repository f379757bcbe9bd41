using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tally.TestSupport;

/// <summary>One request a <see cref="WebhookListener"/> received: the exact body bytes and the headers.</summary>
public sealed record ReceivedHook(byte[] Body, string? Signature, string? ContentType, int AnsweredStatus);

/// <summary>
/// A real HTTP listener on a loopback port (a tiny Kestrel app) that answers 500 to its first <c>failures</c> requests,
/// or, with <c>redirectTo</c>, answers every request 307 to that address (the way a hostile receiver would point Tally
/// at another service).
/// </summary>
public sealed class WebhookListener : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _failuresLeft;

    private WebhookListener(WebApplication app, int failures)
    {
        _app = app;
        _failuresLeft = failures;
    }

    public ConcurrentQueue<ReceivedHook> Received { get; } = new();

    public string Url => _app.Urls.First() + "/hook";

    public int Port => new Uri(_app.Urls.First()).Port;

    public static async Task<WebhookListener> StartAsync(int failures = 0, string? redirectTo = null)
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var listener = new WebhookListener(app, failures);
        app.MapPost("/hook", async (HttpContext http) =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            var status = redirectTo is not null ? 307 : Interlocked.Decrement(ref listener._failuresLeft) >= 0 ? 500 : 200;
            listener.Received.Enqueue(new ReceivedHook(buffer.ToArray(), http.Request.Headers["X-Tally-Signature"].ToString(),
                http.Request.ContentType, status));
            if (redirectTo is not null)
            {
                http.Response.Headers.Location = redirectTo;
            }
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        return listener;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests answered 200 arrived.</summary>
    public Task<List<ReceivedHook>> WaitForDeliveriesAsync(int count, TimeSpan? timeout = null) =>
        Eventually.Until(() => Task.FromResult<List<ReceivedHook>>([.. Received.Where(r => r.AnsweredStatus == 200)]), delivered => delivered.Count >= count,
            $"{count} webhook deliveries answered 200", timeout, delivered => $"{delivered.Count} arrived");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// A webhook that hangs: a TCP listener on a loopback port that accepts every connection and never answers a byte.
/// </summary>
public sealed class HangingServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly ConcurrentQueue<TcpClient> _clients = new();
    private readonly Task _accepting;
    private int _accepted;

    private HangingServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/hook";

    /// <summary>Connections accepted so far (each one is a request Tally is stuck waiting on).</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public static HangingServer Start() => new();

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                _clients.Enqueue(await _listener.AcceptTcpClientAsync());
                Interlocked.Increment(ref _accepted);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    /// <summary>Waits until a connection was accepted: from then on a delivery to this server is in flight.</summary>
    public Task WaitForConnectionAsync(int count = 1, TimeSpan? timeout = null) =>
        Eventually.Until(() => Task.FromResult(Accepted), accepted => accepted >= count, $"{count} connections at the hanging server", timeout,
            accepted => $"{accepted} accepted");

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting;
        while (_clients.TryDequeue(out var client))
        {
            client.Dispose();
        }
    }
}

/// <summary>
/// Debian postfix's <c>smtp-sink</c> on a free loopback port, dumping each message it receives to a file in a
/// folder owned by the <c>postfix</c> user (it drops privileges to that user). Installed by scripts/install-deps.
/// </summary>
public sealed class SmtpSink : IDisposable
{
    public const string Program = "/usr/sbin/smtp-sink";

    private readonly Process _process;

    private SmtpSink(Process process, string dir, int port)
    {
        _process = process;
        Dir = dir;
        Port = port;
    }

    public string Dir { get; }

    public int Port { get; }

    public static async Task<SmtpSink> StartAsync()
    {
        if (!File.Exists(Program))
        {
            throw new InvalidOperationException($"{Program} is missing: run scripts/install-deps (it installs postfix).");
        }
        var dir = Directory.CreateTempSubdirectory("tally-smtp-").FullName;
        Run("chown", "postfix", dir);
        var port = Ports.Free();
        var start = new ProcessStartInfo(Program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-u", "postfix", "-d", Path.Combine(dir, "%M."), $"127.0.0.1:{port}", "100" })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("smtp-sink did not start");
        await Eventually.Until(async () =>
        {
            Assert.False(process.HasExited, $"smtp-sink exited ({(process.HasExited ? process.ExitCode : 0)})");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                return false; // not listening yet
            }
        }, $"smtp-sink to listen on 127.0.0.1:{port}");
        return new SmtpSink(process, dir, port);
    }

    /// <summary>Waits for the first stored message and returns its text: smtp-sink's X- envelope lines, the headers and the body.</summary>
    /// <remarks>
    /// smtp-sink writes the file as the SMTP transaction goes and only the client's closing "." ends it; the
    /// transaction is over once the sender has recorded the delivery, so callers first wait for Tally's history row
    /// "sent" (the fact), and this waits for the file's last line, the body's end, to be there.
    /// </remarks>
    public async Task<string> WaitForMessageAsync(string lastLineContains, TimeSpan? timeout = null)
    {
        var text = await Eventually.Until(async () => Directory.GetFiles(Dir).FirstOrDefault() is { } file ? await File.ReadAllTextAsync(file) : "",
            text => text.Contains(lastLineContains, StringComparison.Ordinal), $"smtp-sink to store a message containing '{lastLineContains}'", timeout,
            text => text.Length == 0 ? "no message" : text);
        return text;
    }


    private static void Run(string program, params string[] args)
    {
        using var process = Process.Start(program, args);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}");
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
        Directory.Delete(Dir, recursive: true);
    }
}
