using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tally.Contract;

namespace Tally.Client;

/// <summary>
/// Tally's client: <see cref="Track(TallyEvent)"/> meters in the background (batched, buffered through outages, exactly
/// once), <see cref="CheckAccessAsync"/> asks before serving (with an offline policy), and <see cref="Reports"/> and
/// <see cref="Admin"/> are the typed read and admin calls. One per process, from
/// <c>services.AddTallyClient(configuration)</c>.
/// </summary>
public sealed class TallyClient : IAsyncDisposable
{
    internal const string ApiClientName = "Tally.Client";
    internal const string AccessClientName = "Tally.Client.Access";

    private readonly HttpClient _api;
    private readonly HttpClient _access;
    private readonly TallyClientOptions _options;
    private readonly TimeProvider _time;
    private readonly LocalBuffer _buffer;
    private readonly OfflineAccess _offline;
    private readonly EventSender _sender;
    private readonly EventIds _ids = new();
    private int _disposed;

    internal TallyClient(IHttpClientFactory http, IOptions<TallyClientOptions> options, TimeProvider time, ILogger<TallyClient> log)
    {
        _options = options.Value;
        if (_options.Problems() is { Count: > 0 } problems)
        {
            throw new OptionsValidationException(TallyClientOptions.Section, typeof(TallyClientOptions), problems);
        }
        _time = time;
        _api = http.CreateClient(ApiClientName);
        _access = http.CreateClient(AccessClientName);
        _buffer = new LocalBuffer(_options.BufferPath);
        _offline = new OfflineAccess(_options.OfflineAccess, _options.OfflineGraceMinutes, _options.UnitMinutes, _options.OfflineRetryAfter, _buffer.Grants());
        _sender = new EventSender(_api, _buffer, _offline, _options, time, log);
        var calls = new TallyCalls(_api);
        Reports = new TallyReports(calls);
        Admin = new TallyAdmin(calls);
    }

    /// <summary>Usage reports: needs a read or admin key.</summary>
    public TallyReports Reports { get; }

    /// <summary>License, allocations, keys and tenants: needs an admin key (tenants: the operator's key).</summary>
    public TallyAdmin Admin { get; }

    /// <summary>Counters and the buffer's size, now.</summary>
    public TallyClientStatus Status => _sender.Status;

    /// <summary>
    /// Meters <paramref name="e"/> in the background and returns its id at once. The id (generated when absent) and the
    /// client time (now, when absent) travel with the event through every retry and outage, so Tally charges it once.
    /// </summary>
    /// <exception cref="ArgumentException">The event has no action.</exception>
    public string Track(TallyEvent e)
    {
        var wire = Stamp(e);
        _sender.Enqueue(wire);
        return wire.Id!;
    }

    /// <summary>Meters one action of <paramref name="user"/> on <paramref name="app"/>.</summary>
    public string Track(string user, string app, string action, string? device = null) => Track(new TallyEvent(user, app, action, device));

    /// <summary>Returns once everything tracked before the call is with Tally, or safe in the local buffer after an attempt to send it.</summary>
    public Task FlushAsync(CancellationToken cancel = default) => _sender.FlushAsync(cancel);

    /// <summary>
    /// Asks Tally whether <paramref name="e"/> may happen now, which also meters it. When Tally cannot be reached within
    /// <c>AccessTimeout</c>, or the client already knows it is unreachable, the offline policy decides and the decision
    /// says <c>Offline</c>; an engagement allowed offline is buffered and metered when Tally is back.
    /// </summary>
    public async Task<AccessDecision> CheckAccessAsync(TallyEvent e, CancellationToken cancel = default)
    {
        var wire = Stamp(e);
        if (_sender.Online)
        {
            try
            {
                var result = await AskAsync(wire, cancel).ConfigureAwait(false);
                if (result is { Decision: "duplicate" } && e.Id is null)
                {
                    // A retry whose first attempt Tally had already decided: the duplicate says nothing of that decision,
                    // so ask once more as a new event (inside the unit it started, it is covered and costs nothing).
                    wire = Stamp(e);
                    result = await AskAsync(wire, cancel).ConfigureAwait(false);
                }
                if (result is not null)
                {
                    return new AccessDecision(result.Allowed, wire.Id!, result.Decision, result.Reason, result.RetryAfter, false, result);
                }
            }
            catch (Exception ex) when (!cancel.IsCancellationRequested && EventSender.Transient(ex))
            {
                _sender.MarkUnreachable(ex.Message);
            }
        }
        return DecideOffline(wire);
    }

    /// <summary>Tally's decision, or null when Tally answered as a server in trouble (5xx, 408, 429): then the client is offline.</summary>
    private async Task<AccessResult?> AskAsync(EventDto wire, CancellationToken cancel)
    {
        using var response = await _access.PostAsJsonAsync("api/v1/access", wire, TallyJson.Options, cancel).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return (await response.Content.ReadFromJsonAsync<AccessResult>(TallyJson.Options, cancel).ConfigureAwait(false))!;
        }
        if ((int)response.StatusCode is >= 400 and < 500 and not 408 and not 429)
        {
            // A wrong key or a malformed event is the application's error, not an outage: say so, do not guess.
            throw await TallyCalls.ErrorAsync(response, "POST /api/v1/access").ConfigureAwait(false);
        }
        _sender.MarkUnreachable($"{(int)response.StatusCode} from /api/v1/access");
        return null;
    }

    /// <summary>Sends <paramref name="events"/> now, in one request, and returns Tally's decisions; no buffering.</summary>
    /// <exception cref="TallyApiException">Tally refused the batch (the problem names the event and the reason).</exception>
    public async Task<IReadOnlyList<EventResult>> SendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancel = default) =>
        await new TallyCalls(_api).PostAsync<List<EventDto>, List<EventResult>>("api/v1/events", [.. events.Select(Stamp)], cancel).ConfigureAwait(false);

    /// <summary>Sends what is queued (see <see cref="FlushAsync"/>) and stops the background sender.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _sender.DisposeAsync().ConfigureAwait(false);
            _buffer.Dispose();
        }
    }

    /// <summary>Graceful shutdown: what is queued is sent, or buffered once <paramref name="cancel"/> fires.</summary>
    internal Task StopAsync(CancellationToken cancel) => _sender.StopAsync(cancel);

    private AccessDecision DecideOffline(EventDto wire)
    {
        var (decision, grace) = _offline.Decide(wire, _time.GetUtcNow());
        if (grace is { } minutes)
        {
            _buffer.AddGrant(wire, _time.GetUtcNow(), minutes);
            // Allowed offline: the engagement happened, so Tally meters it when it is back (same id).
            _sender.Enqueue(wire);
        }
        else
        {
            // Denied offline: nothing happened to meter; the report counts it.
            _buffer.AddDenied(_time.GetUtcNow());
        }
        _sender.ReportPending();
        return decision;
    }

    private EventDto Stamp(TallyEvent e)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(e.Action, nameof(e));
        return new EventDto(e.Id ?? _ids.Next(), e.User, e.Device, e.App, e.Action,
            (e.Time ?? _time.GetUtcNow()).ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }
}
