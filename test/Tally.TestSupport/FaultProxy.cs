using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace Tally.TestSupport;

/// <summary>What a <see cref="FaultProxy"/> does with each request.</summary>
public enum ProxyMode
{
    /// <summary>Forward to the target (injected faults from <see cref="FaultProxy.FailNext"/> still apply first).</summary>
    Forward,

    /// <summary>Refuse service: abort the connection without an answer (the client sees a reset / premature end).</summary>
    Abort,

    /// <summary>Refuse service: answer every request 502 Bad Gateway itself.</summary>
    Status502,
}

/// <summary>How a <see cref="FaultProxy"/> answered one request.</summary>
public enum ProxyOutcome
{
    /// <summary>Forwarded; the target's answer was copied back.</summary>
    Forwarded,

    /// <summary>Answered by the proxy with a fault from <see cref="FaultProxy.FailNext"/>; the target never saw it.</summary>
    Injected,

    /// <summary>Connection aborted by the proxy (<see cref="ProxyMode.Abort"/>); the target never saw it.</summary>
    Aborted,

    /// <summary>Answered 502 by <see cref="ProxyMode.Status502"/>; the target never saw it.</summary>
    Refused,

    /// <summary>The target could not be reached (down, killed, refusing connections): answered 502 (504 on a time-out).</summary>
    Unreachable,

    /// <summary>Forwarded and processed by the target, but the answer was dropped and the connection aborted (<see cref="FaultProxy.LoseNextResponses"/>).</summary>
    ResponseLost,
}

/// <summary>One request the proxy received: method, path (without the query), the status it answered (0: none, aborted) and how.</summary>
public sealed record ProxyExchange(string Method, string Path, int Status, ProxyOutcome Outcome);

/// <summary>
/// A real HTTP reverse proxy on a free loopback port (a tiny Kestrel app) in front of a target such as
/// <see cref="RealTally"/>: it forwards every request (method, path, query, headers including Authorization, body) with
/// an <see cref="HttpClient"/> and copies the answer back (status, headers including Retry-After, body). Faults can be
/// injected: <see cref="FailNext"/> answers the next requests itself, <see cref="LoseNextResponses"/> forwards them but
/// drops the answer, <see cref="Mode"/> refuses all service, <see cref="Delay"/> slows every forwarded request. When the
/// target is unreachable the proxy answers 502, as a real gateway does. Every member is thread-safe.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host",
    };

    private readonly WebApplication _app;
    private readonly HttpClient _forward;
    private readonly Lock _gate = new();
    private readonly List<Fault> _faults = [];
    private readonly ConcurrentDictionary<string, int> _receivedByPath = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ProxyExchange> _log = new();
    private int _mode;
    private int _received;
    private int _forwarded;
    private int _faultsInjected;
    private long _delayTicks;
    private Uri _target;

    private FaultProxy(WebApplication app, Uri target, TimeSpan timeout)
    {
        _app = app;
        _target = target;
        _forward = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseProxy = false,
            // A killed target's pooled connections are dead; do not keep idle ones long.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        { Timeout = timeout };
    }

    /// <summary>The proxy's own address, <c>http://127.0.0.1:PORT/</c>: give this to the client under test.</summary>
    public Uri Address { get; private set; } = null!;

    public int Port => Address.Port;

    /// <summary>Where requests go (may be changed while running).</summary>
    public Uri Target
    {
        get => Volatile.Read(ref _target);
        set => Volatile.Write(ref _target, value);
    }

    /// <summary>Forward (default), or refuse all service by aborting connections or answering 502.</summary>
    public ProxyMode Mode
    {
        get => (ProxyMode)Volatile.Read(ref _mode);
        set => Volatile.Write(ref _mode, (int)value);
    }

    /// <summary>Shorthand: true sets <see cref="Mode"/> to <see cref="ProxyMode.Abort"/> (connections refused service), false to <see cref="ProxyMode.Forward"/>.</summary>
    public bool Down
    {
        get => Mode != ProxyMode.Forward;
        set => Mode = value ? ProxyMode.Abort : ProxyMode.Forward;
    }

    /// <summary>Waited before forwarding each request (a slow network or server; e.g. to trip a client's time-out). Default none.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set => Interlocked.Exchange(ref _delayTicks, value.Ticks);
    }

    /// <summary>Requests received, whatever became of them.</summary>
    public int Received => Volatile.Read(ref _received);

    /// <summary>Requests forwarded to the target (including those whose answer was lost, not those that found it unreachable).</summary>
    public int Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>Faults the proxy caused: injected statuses, lost answers, aborts and 502s of <see cref="Mode"/> (not unreachable-target 502s).</summary>
    public int FaultsInjected => Volatile.Read(ref _faultsInjected);

    /// <summary>Requests received per path (without the query), e.g. <c>/api/v1/events</c>.</summary>
    public IReadOnlyDictionary<string, int> ReceivedByPath => new Dictionary<string, int>(_receivedByPath, StringComparer.Ordinal);

    /// <summary>Requests received on exactly <paramref name="path"/>.</summary>
    public int ReceivedOn(string path) => _receivedByPath.TryGetValue(path, out var n) ? n : 0;

    /// <summary>Every request in the order answered (method, path, status, outcome).</summary>
    public IReadOnlyList<ProxyExchange> Log => [.. _log];

    /// <summary>The requests on <paramref name="path"/>, in order.</summary>
    public IReadOnlyList<ProxyExchange> LogOf(string path) => [.. _log.Where(e => e.Path == path)];

    /// <summary>Starts a proxy to <paramref name="target"/> on a free loopback port; <paramref name="timeout"/> bounds each forwarded request (default 30 s, then 504).</summary>
    public static async Task<FaultProxy> StartAsync(Uri target, TimeSpan? timeout = null)
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        var proxy = new FaultProxy(app, target, timeout ?? TimeSpan.FromSeconds(30));
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        proxy.Address = new Uri(app.Urls.First().TrimEnd('/') + "/");
        return proxy;
    }

    /// <summary>
    /// Answers the next <paramref name="n"/> requests whose path starts with <paramref name="pathPrefix"/> (any path
    /// when null) itself with <paramref name="status"/> and a problem+json body, without forwarding; with
    /// <paramref name="retryAfterSeconds"/> a <c>Retry-After</c> header too. Calls add up: rules are used in the order added.
    /// </summary>
    public void FailNext(int n, int status = 503, string? pathPrefix = null, int? retryAfterSeconds = null) =>
        Add(new Fault(n, status, pathPrefix, retryAfterSeconds, LoseResponse: false));

    /// <summary>
    /// Forwards the next <paramref name="n"/> matching requests (the target processes and commits them) but drops the
    /// answer and aborts the connection: the client cannot know whether its request was applied (the retry-with-the-same-id case).
    /// </summary>
    public void LoseNextResponses(int n, string? pathPrefix = null) => Add(new Fault(n, 0, pathPrefix, null, LoseResponse: true));

    /// <summary>Forgets every pending fault from <see cref="FailNext"/> and <see cref="LoseNextResponses"/>.</summary>
    public void ClearFaults()
    {
        lock (_gate)
        {
            _faults.Clear();
        }
    }

    /// <summary>Pending faults not yet used.</summary>
    public int PendingFaults
    {
        get
        {
            lock (_gate)
            {
                return _faults.Sum(f => f.Remaining);
            }
        }
    }

    /// <summary>Zeroes the counters and clears the log (faults and mode stay).</summary>
    public void ResetCounters()
    {
        lock (_gate)
        {
            _receivedByPath.Clear();
            _log.Clear();
            Volatile.Write(ref _received, 0);
            Volatile.Write(ref _forwarded, 0);
            Volatile.Write(ref _faultsInjected, 0);
        }
    }

    private void Add(Fault fault)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fault.Remaining);
        lock (_gate)
        {
            _faults.Add(fault);
        }
    }

    private Fault? TakeFault(string path)
    {
        lock (_gate)
        {
            var i = _faults.FindIndex(f => f.Remaining > 0 && (f.PathPrefix is null || path.StartsWith(f.PathPrefix, StringComparison.Ordinal)));
            if (i < 0)
            {
                return null;
            }
            var fault = _faults[i];
            if (fault.Remaining == 1)
            {
                _faults.RemoveAt(i);
            }
            else
            {
                _faults[i] = fault with { Remaining = fault.Remaining - 1 };
            }
            return fault;
        }
    }

    private async Task HandleAsync(HttpContext http)
    {
        var method = http.Request.Method;
        var path = http.Request.Path.Value ?? "/";
        Interlocked.Increment(ref _received);
        _receivedByPath.AddOrUpdate(path, 1, (_, n) => n + 1);

        switch (Mode)
        {
            case ProxyMode.Abort:
                Interlocked.Increment(ref _faultsInjected);
                _log.Enqueue(new ProxyExchange(method, path, 0, ProxyOutcome.Aborted));
                http.Abort();
                return;
            case ProxyMode.Status502:
                Interlocked.Increment(ref _faultsInjected);
                await AnswerProblemAsync(http, 502, "Bad Gateway", "The proxy refuses service (FaultProxy.Mode = Status502).", null);
                _log.Enqueue(new ProxyExchange(method, path, 502, ProxyOutcome.Refused));
                return;
        }

        var fault = TakeFault(path);
        if (fault is { LoseResponse: false })
        {
            Interlocked.Increment(ref _faultsInjected);
            await AnswerProblemAsync(http, fault.Status, Reason(fault.Status), $"Injected by FaultProxy.FailNext ({fault.Status}).", fault.RetryAfterSeconds);
            _log.Enqueue(new ProxyExchange(method, path, fault.Status, ProxyOutcome.Injected));
            return;
        }

        var delay = Delay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, http.RequestAborted);
        }

        using var request = await CopyRequestAsync(http);
        HttpResponseMessage response;
        try
        {
            response = await _forward.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, http.RequestAborted);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !http.RequestAborted.IsCancellationRequested)
        {
            var status = e is TaskCanceledException ? 504 : 502;
            await AnswerProblemAsync(http, status, Reason(status), $"The proxy could not reach {Target}: {e.Message}", null);
            _log.Enqueue(new ProxyExchange(method, path, status, ProxyOutcome.Unreachable));
            return;
        }
        using (response)
        {
            Interlocked.Increment(ref _forwarded);
            if (fault is { LoseResponse: true })
            {
                // Let the target finish its answer (so what it did is done), then drop it.
                await response.Content.LoadIntoBufferAsync(http.RequestAborted);
                Interlocked.Increment(ref _faultsInjected);
                _log.Enqueue(new ProxyExchange(method, path, 0, ProxyOutcome.ResponseLost));
                http.Abort();
                return;
            }
            http.Response.StatusCode = (int)response.StatusCode;
            CopyHeaders(response.Headers, http.Response.Headers);
            CopyHeaders(response.Content.Headers, http.Response.Headers);
            _log.Enqueue(new ProxyExchange(method, path, (int)response.StatusCode, ProxyOutcome.Forwarded));
            await response.Content.CopyToAsync(http.Response.Body, http.RequestAborted);
        }
    }

    private async Task<HttpRequestMessage> CopyRequestAsync(HttpContext http)
    {
        var target = Target;
        var uri = new Uri(target, (http.Request.PathBase + http.Request.Path).Value + http.Request.QueryString.Value);
        var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), uri);
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted);
        if (body.Length > 0 || http.Request.ContentLength is not null || http.Request.ContentType is not null)
        {
            request.Content = new ByteArrayContent(body.ToArray());
        }
        foreach (var (name, values) in http.Request.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
        return request;
    }

    private static void CopyHeaders(HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (name, values) in from)
        {
            if (!HopByHop.Contains(name))
            {
                to[name] = values.ToArray();
            }
        }
    }

    private static async Task AnswerProblemAsync(HttpContext http, int status, string title, string detail, int? retryAfterSeconds)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/problem+json";
        if (retryAfterSeconds is int seconds)
        {
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var json = System.Text.Json.JsonSerializer.Serialize(new { type = "about:blank", title, status, detail });
        await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(json));
    }

    private static string Reason(int status) => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _forward.Dispose();
    }

    private sealed record Fault(int Remaining, int Status, string? PathPrefix, int? RetryAfterSeconds, bool LoseResponse);
}
