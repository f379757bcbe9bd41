using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tally.Server.Tests.Monitoring;

/// <summary>One request a <see cref="WebhookListener"/> received: the exact body bytes and the headers.</summary>
public sealed record ReceivedHook(byte[] Body, string? Signature, string? ContentType, int AnsweredStatus);

/// <summary>A real HTTP listener on a loopback port (a tiny Kestrel app) that answers 500 to its first <c>failures</c> requests.</summary>
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

    public static async Task<WebhookListener> StartAsync(int failures = 0)
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var listener = new WebhookListener(app, failures);
        app.MapPost("/hook", async (HttpContext http) =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            var status = Interlocked.Decrement(ref listener._failuresLeft) >= 0 ? 500 : 200;
            listener.Received.Enqueue(new ReceivedHook(buffer.ToArray(), http.Request.Headers["X-Tally-Signature"].ToString(),
                http.Request.ContentType, status));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        return listener;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests answered 200 arrived.</summary>
    public async Task<List<ReceivedHook>> WaitForDeliveriesAsync(int count, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (Received.Count(r => r.AnsweredStatus == 200) < count)
        {
            if (clock.Elapsed > (timeout ?? TimeSpan.FromSeconds(20)))
            {
                throw new TimeoutException($"{Received.Count(r => r.AnsweredStatus == 200)} of {count} webhook deliveries arrived.");
            }
            await Task.Delay(25);
        }
        return [.. Received.Where(r => r.AnsweredStatus == 200)];
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
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
        var port = FreePort();
        var start = new ProcessStartInfo(Program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-u", "postfix", "-d", Path.Combine(dir, "%M."), $"127.0.0.1:{port}", "100" })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("smtp-sink did not start");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(10) && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
        return new SmtpSink(process, dir, port);
    }

    /// <summary>Waits for the first stored message and returns its text: smtp-sink's X- envelope lines, the headers and the body.</summary>
    public async Task<string> WaitForMessageAsync(TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        var last = "";
        while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(20)))
        {
            if (Directory.GetFiles(Dir).FirstOrDefault() is { } file)
            {
                // The file is written as the transaction goes: done once it stops changing.
                var text = await File.ReadAllTextAsync(file);
                if (text.Length > 0 && text == last)
                {
                    return text;
                }
                last = text;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("smtp-sink stored no complete message.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
