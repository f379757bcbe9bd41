using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Tally.Client;
using Tally.Contract;

namespace Tally.Benchmarks;

/// <summary>
/// <c>TallyClient.Track</c> on the caller's thread (issue 18), against a bare <c>Channel&lt;object&gt;.Writer.TryWrite</c>
/// of an <see cref="EventDto"/> made of ready strings (the baseline), and of one that gets a fresh GUID id and an ISO
/// client time as Track does (what Track cannot avoid doing).
/// <para>
/// No network and no buffer in the measurement: the client's base address is a loopback listener that accepts
/// connections and never answers, so the background sender takes its first batch, posts it and waits; every other event
/// stays in the queue. A fresh client (and channel) per iteration, <see cref="Calls"/> calls per iteration, well under
/// the default QueueCapacity of 100,000, so Track never meets a full queue. The cleanup closes the connections: the
/// sender fails, buffers what is queued, and the client is disposed outside the measurement.
/// </para>
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class TrackBenchmarks
{
    private const int Calls = 50_000;
    private const int QueueCapacity = 100_000; // TallyClientOptions.QueueCapacity's default, for the baseline channel

    private readonly string[] _users = [.. Enumerable.Range(0, 1000).Select(i => $"user-{i}")];
    private readonly string[] _apps = [.. Enumerable.Range(0, 5).Select(i => $"app-{i}")];
    private readonly string _id = Guid.NewGuid().ToString("N");
    private readonly string _time = TimeProvider.System.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
    private readonly List<Socket> _accepted = [];
    private TcpListener _silent = null!;
    private volatile bool _holding;
    private string _dir = "";
    private int _iteration;
    private Channel<object> _channel = null!;
    private ServiceProvider? _services;
    private TallyClient _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("tally-track-bench-").FullName;
        _silent = new TcpListener(IPAddress.Loopback, 0);
        _silent.Start();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await _silent.AcceptSocketAsync();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return;
                }
                if (!_holding)
                {
                    // Between iterations: a connection closed at once, so the disposing client's resend fails fast.
                    socket.Close();
                    continue;
                }
                lock (_accepted)
                {
                    _accepted.Add(socket);
                }
            }
        });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _silent.Stop();
        Directory.Delete(_dir, recursive: true);
    }

    [IterationSetup(Targets = [nameof(ChannelTryWrite), nameof(ChannelTryWriteWithId), nameof(ChannelTryWriteWithIdAndTime)])]
    public void NewChannel() =>
        _channel = Channel.CreateBounded<object>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    [IterationSetup(Target = nameof(Track))]
    public void NewClient()
    {
        var port = ((IPEndPoint)_silent.LocalEndpoint).Port;
        _services = new ServiceCollection().AddLogging().AddTallyClient(o =>
        {
            o.BaseAddress = new Uri($"http://127.0.0.1:{port}/");
            o.ApiKey = "bench";
            o.BufferPath = Path.Combine(_dir, $"buffer-{_iteration++}.db");
            o.MaxRetries = 0;
            o.MaxResendDelay = TimeSpan.FromHours(1);
            o.BatchSize = 1000; // fewer buffer transactions in the cleanup; Track's own work does not depend on it
        }).BuildServiceProvider();
        _client = _services.GetRequiredService<TallyClient>();
        _holding = true;
    }

    [IterationCleanup(Target = nameof(Track))]
    public void DropClient()
    {
        _holding = false;
        lock (_accepted)
        {
            _accepted.ForEach(s => s.Close());
            _accepted.Clear();
        }
        _services!.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public bool ChannelTryWrite()
    {
        var writer = _channel.Writer;
        var ok = true;
        for (var i = 0; i < Calls; i++)
        {
            ok &= writer.TryWrite(new EventDto(_id, _users[i % 1000], null, _apps[i / 1000 % 5], "select", _time));
        }
        return ok;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public bool ChannelTryWriteWithId()
    {
        var writer = _channel.Writer;
        var ok = true;
        for (var i = 0; i < Calls; i++)
        {
            ok &= writer.TryWrite(new EventDto(Guid.NewGuid().ToString("N"), _users[i % 1000], null, _apps[i / 1000 % 5], "select", _time));
        }
        return ok;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public bool ChannelTryWriteWithIdAndTime()
    {
        var writer = _channel.Writer;
        var ok = true;
        for (var i = 0; i < Calls; i++)
        {
            ok &= writer.TryWrite(new EventDto(Guid.NewGuid().ToString("N"), _users[i % 1000], null, _apps[i / 1000 % 5], "select",
                TimeProvider.System.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
        }
        return ok;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public string Track()
    {
        var client = _client;
        var id = "";
        for (var i = 0; i < Calls; i++)
        {
            id = client.Track(_users[i % 1000], _apps[i / 1000 % 5], "select");
        }
        return id;
    }
}

/// <summary>
/// <c>TallyClient.Status</c>, which an application may poll for its health page or metrics: the counters are
/// interlocked reads, but the buffer's size and the offline records come from the buffer (the latter a
/// <c>SELECT COUNT(*)</c> under the buffer's lock). Idle client, empty buffer, nothing tracked.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class StatusBenchmarks
{
    private string _dir = "";
    private ServiceProvider _services = null!;
    private TallyClient _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("tally-status-bench-").FullName;
        _services = new ServiceCollection().AddLogging().AddTallyClient(o =>
        {
            o.BaseAddress = new Uri("http://127.0.0.1:9/");
            o.ApiKey = "bench";
            o.BufferPath = Path.Combine(_dir, "buffer.db");
        }).BuildServiceProvider();
        _client = _services.GetRequiredService<TallyClient>();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark]
    public TallyClientStatus Status() => _client.Status;
}
