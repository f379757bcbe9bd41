using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tally.Import.Tests;

/// <summary>What the proxy does with one request instead of (or on top of) passing it through.</summary>
public abstract record Fault
{
    /// <summary>No fault: the request passes through (to script a fault for a later request).</summary>
    public sealed record Pass : Fault;

    /// <summary>429 with <c>Retry-After: Seconds</c>; the request does not reach the upstream.</summary>
    public sealed record TooManyRequests(int RetryAfterSeconds) : Fault;

    /// <summary>A 5xx answer (500, 502, 503) without reaching the upstream.</summary>
    public sealed record ServerError(int Status) : Fault;

    /// <summary>The connection is reset before any answer.</summary>
    public sealed record Reset : Fault;

    /// <summary>Waits <paramref name="Delay"/> (or until the client gives up) before passing the request through.</summary>
    public sealed record Slow(TimeSpan Delay) : Fault;

    /// <summary>Answers with the previous response again (a stale cache), without reaching the upstream.</summary>
    public sealed record RepeatPrevious : Fault;
}

/// <summary>
/// A reverse proxy on loopback in front of a real upstream, whose faults a test scripts request by request: each
/// request takes the next scripted fault (none left: it passes through). It keeps the client's Host header, as a
/// proxy in front of an API must, so the upstream's absolute page links point back at the proxy; <c>keepHost: false</c>
/// makes it the misconfigured proxy whose links lead past it. It can also hold back consumption records: a held id is
/// cut from the first page that carries it, so that record "arrives late", on a later read; and with
/// <c>relativeLinks</c> it turns the upstream's absolute page links into relative ones (path and query), as some APIs send them.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Host",
    };

    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly Uri _upstreamBase;
    private readonly bool _keepHost;
    private readonly bool _relativeLinks;
    private readonly ConcurrentQueue<Fault> _script = new();
    private readonly ConcurrentDictionary<string, byte> _heldBack = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Field, JsonNode? Value)> _spoiled = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _released = new();
    private readonly ConcurrentQueue<Fault> _injected = new();
    private (int Status, string? ContentType, byte[] Body)? _previous;
    private int _requests, _forwarded;

    private FaultProxy(Uri upstream, bool keepHost, bool relativeLinks)
    {
        _upstreamBase = upstream;
        _keepHost = keepHost;
        _relativeLinks = relativeLinks;
        _upstream = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    public static async Task<FaultProxy> StartAsync(Uri upstream, bool keepHost = true, bool relativeLinks = false)
    {
        var proxy = new FaultProxy(upstream, keepHost, relativeLinks);
        await proxy._app.StartAsync();
        return proxy;
    }

    public Uri Address => new(_app.Urls.First());

    /// <summary>Every request that arrived (faulted or not).</summary>
    public int Requests => _requests;

    /// <summary>Requests passed to the upstream and answered by it.</summary>
    public int Forwarded => _forwarded;

    /// <summary>The faults applied so far, in order.</summary>
    public IReadOnlyList<Fault> Injected => [.. _injected];

    /// <summary>Scripted faults not yet applied (a test asserts this is 0: every fault it scripted really happened).</summary>
    public int Pending => _script.Count;

    /// <summary>The held-back record ids that were cut from a page so far.</summary>
    public IReadOnlyList<string> HeldBack => [.. _released];

    /// <summary>The next requests meet these faults, one each, in order.</summary>
    public void Script(params Fault[] faults)
    {
        foreach (var fault in faults)
        {
            _script.Enqueue(fault);
        }
    }

    /// <summary>Cuts these consumption record ids from the first page that carries each.</summary>
    public void HoldBack(params string[] recordIds)
    {
        foreach (var id in recordIds)
        {
            _heldBack[id] = 0;
        }
    }

    /// <summary>Every time a consumption page carries record <paramref name="recordId"/>, its <paramref name="field"/> is <paramref name="value"/> instead.</summary>
    public void Spoil(string recordId, string field, JsonNode? value) => _spoiled[recordId] = (field, value);

    private async Task HandleAsync(HttpContext http)
    {
        Interlocked.Increment(ref _requests);
        var fault = _script.TryDequeue(out var next) ? next : null;
        if (fault is not null)
        {
            _injected.Enqueue(fault);
        }
        switch (fault)
        {
            case Fault.TooManyRequests(var seconds):
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return;
            case Fault.ServerError(var status):
                http.Response.StatusCode = status;
                return;
            case Fault.Reset:
                http.Abort();
                return;
            case Fault.RepeatPrevious:
                if (_previous is not { } previous)
                {
                    throw new InvalidOperationException("RepeatPrevious scripted for the first request: there is no previous response.");
                }
                await WriteAsync(http, previous.Status, previous.ContentType, previous.Body);
                return;
            case Fault.Slow(var delay):
                // The client may give up first (its attempt time-out): then the wait ends with the aborted request.
                await Task.Delay(delay, http.RequestAborted);
                break;
        }
        await ForwardAsync(http);
    }

    private async Task ForwardAsync(HttpContext http)
    {
        var target = new Uri(_upstreamBase, http.Request.Path + http.Request.QueryString);
        using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), target);
        foreach (var (name, values) in http.Request.Headers)
        {
            if (!HopByHop.Contains(name))
            {
                request.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }
        if (_keepHost)
        {
            request.Headers.Host = http.Request.Host.Value;
        }
        using var response = await _upstream.SendAsync(request, http.RequestAborted);
        var body = await response.Content.ReadAsByteArrayAsync(http.RequestAborted);
        var contentType = response.Content.Headers.ContentType?.ToString();
        if (response.IsSuccessStatusCode && (_relativeLinks || !_heldBack.IsEmpty || !_spoiled.IsEmpty) && contentType?.Contains("json", StringComparison.Ordinal) == true)
        {
            body = Rewrite(body, cutHeldBack: http.Request.Path.StartsWithSegments("/api/v1/licenses/consumption"));
        }
        Interlocked.Increment(ref _forwarded);
        _previous = ((int)response.StatusCode, contentType, body);
        await WriteAsync(http, (int)response.StatusCode, contentType, body);
    }

    private byte[] Rewrite(byte[] body, bool cutHeldBack)
    {
        if (JsonNode.Parse(body) is not JsonObject page)
        {
            return body;
        }
        if (cutHeldBack && page["data"] is JsonArray data)
        {
            foreach (var record in data.ToList())
            {
                if (record?["id"]?.GetValue<string>() is { } id && _heldBack.TryRemove(id, out _))
                {
                    data.Remove(record);
                    _released.Enqueue(id);
                }
                else if (record is JsonObject spoilable && spoilable["id"]?.GetValue<string>() is { } spoiledId && _spoiled.TryGetValue(spoiledId, out var spoil))
                {
                    spoilable[spoil.Field] = spoil.Value?.DeepClone();
                }
            }
        }
        if (_relativeLinks && page["links"] is JsonObject links)
        {
            foreach (var (_, link) in links.ToList())
            {
                if (link is JsonObject { } target && target["href"]?.GetValue<string>() is { } href)
                {
                    target["href"] = new Uri(href).PathAndQuery;
                }
            }
        }
        return System.Text.Encoding.UTF8.GetBytes(page.ToJsonString());
    }

    private static async Task WriteAsync(HttpContext http, int status, string? contentType, byte[] body)
    {
        http.Response.StatusCode = status;
        if (contentType is not null)
        {
            http.Response.ContentType = contentType;
        }
        await http.Response.Body.WriteAsync(body, http.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _upstream.Dispose();
    }
}
