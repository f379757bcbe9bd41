using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tally.Contract;

namespace Tally.Client;

/// <summary>
/// The one background loop that delivers events: tracked events leave in batches (<c>BatchSize</c>, <c>Linger</c>); a
/// batch Tally does not take goes to the local buffer, and while the buffer holds anything every new event goes after it,
/// so Tally receives events in the order they were tracked, with their ids and client times. The buffer is resent with
/// growing jittered delays until Tally takes it; then the offline report follows. Ids make every resend idempotent: an
/// event Tally already has comes back <c>duplicate</c> and is never charged twice (R10).
/// </summary>
internal sealed partial class EventSender : IAsyncDisposable
{
    /// <summary>A queue item that only wakes the sender.</summary>
    private static readonly object WakeUp = new();

    private readonly Channel<object> _queue;
    private readonly HttpClient _http;
    private readonly LocalBuffer _buffer;
    private readonly OfflineAccess _offline;
    private readonly TallyClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _hurry = new();
    private readonly Task _loop;
    private TimeSpan _resendDelay;
    private long _nextAttemptTicks;
    private long _tracked, _sent, _duplicates, _rejected, _dropped;
    private volatile bool _online = true;
    private long _offlineSinceTicks;
    private volatile bool _reportPending;
    private volatile bool _stopping;

    public EventSender(HttpClient http, LocalBuffer buffer, OfflineAccess offline, TallyClientOptions options, TimeProvider time, ILogger log)
    {
        _http = http;
        _buffer = buffer;
        _offline = offline;
        _options = options;
        _time = time;
        _log = log;
        _resendDelay = options.RetryDelay;
        _queue = Channel.CreateBounded<object>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _reportPending = buffer.OfflineRecords > 0;
        if (buffer.Count > 0 || _reportPending)
        {
            // A previous run left events or an offline report: deliver them first.
            GoOffline("the buffer holds events from before this start");
            _nextAttemptTicks = 0;
        }
        _loop = Task.Run(RunAsync);
    }

    public bool Online => _online;

    public TallyClientStatus Status => new(_online, _online ? null : new DateTimeOffset(Interlocked.Read(ref _offlineSinceTicks), TimeSpan.Zero),
        Interlocked.Read(ref _tracked), Interlocked.Read(ref _sent), Interlocked.Read(ref _duplicates), Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _dropped), _buffer.Count, _offline.GraceUsed, _buffer.OfflineRecords);

    /// <summary>Queues <paramref name="e"/> (id and time already set); false when the in-memory queue is full or the client stopped.</summary>
    public bool Enqueue(EventDto e)
    {
        if (_queue.Writer.TryWrite(e))
        {
            Interlocked.Increment(ref _tracked);
            return true;
        }
        Interlocked.Increment(ref _dropped);
        if (_queue.Reader.Completion.IsCompleted || _stopping)
        {
            LogStopped(_log, e.Id);
        }
        else
        {
            LogQueueFull(_log, _options.QueueCapacity);
        }
        return false;
    }

    /// <summary>Something was decided offline: a report must follow once Tally is back.</summary>
    public void ReportPending() => _reportPending = true;

    /// <summary>
    /// An online call found Tally unreachable: further access checks decide offline until the sender gets through. The
    /// sender is woken, so it starts probing even when nothing is queued (a denial offline queues nothing).
    /// </summary>
    public void MarkUnreachable(string why)
    {
        GoOffline(why);
        _queue.Writer.TryWrite(WakeUp);
    }

    /// <summary>Returns once every event queued before the call is with Tally, or in the local buffer after an attempt to send it.</summary>
    public async Task FlushAsync(CancellationToken cancel)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(done))
        {
            await _loop.WaitAsync(cancel).ConfigureAwait(false);
            return;
        }
        await done.Task.WaitAsync(cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops taking events and delivers what is queued. When <paramref name="cancel"/> fires first (the host's shutdown
    /// timeout), the rest goes to the local buffer unsent: nothing tracked is lost.
    /// </summary>
    public async Task StopAsync(CancellationToken cancel)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        using var hurry = cancel.Register(() => _hurry.Cancel());
        await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _hurry.Dispose();
    }

    private async Task RunAsync()
    {
        var batch = new List<EventDto>(_options.BatchSize);
        var flushes = new List<TaskCompletionSource>();
        var reader = _queue.Reader;
        while (true)
        {
            var completed = await WaitForWorkAsync(reader).ConfigureAwait(false);
            var lingerUntil = _time.GetUtcNow() + _options.Linger;
            while (batch.Count < _options.BatchSize && flushes.Count == 0)
            {
                if (reader.TryRead(out var item))
                {
                    Take(item, batch, flushes);
                    continue;
                }
                var left = lingerUntil - _time.GetUtcNow();
                if (batch.Count == 0 || left <= TimeSpan.Zero || completed || _hurry.IsCancellationRequested || !await WaitToReadAsync(reader, left).ConfigureAwait(false))
                {
                    break;
                }
            }
            if (batch.Count > 0)
            {
                await DeliverAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }
            var resendDue = !_online && _time.GetUtcNow().UtcTicks >= Interlocked.Read(ref _nextAttemptTicks);
            if (flushes.Count > 0 || resendDue || (completed && reader.Count == 0))
            {
                await ResendAsync().ConfigureAwait(false);
            }
            flushes.ForEach(f => f.TrySetResult());
            flushes.Clear();
            if (completed && !reader.TryPeek(out _))
            {
                return;
            }
        }
    }

    private static void Take(object item, List<EventDto> batch, List<TaskCompletionSource> flushes)
    {
        if (item is EventDto e)
        {
            batch.Add(e);
        }
        else if (item is TaskCompletionSource flush)
        {
            flushes.Add(flush);
        }
    }

    /// <summary>Waits for a queued item, or until the next resend is due; true when the queue is completed.</summary>
    private async Task<bool> WaitForWorkAsync(ChannelReader<object> reader)
    {
        while (!reader.TryPeek(out _))
        {
            if (reader.Completion.IsCompleted)
            {
                return true;
            }
            if (!_online)
            {
                var wait = new DateTimeOffset(Interlocked.Read(ref _nextAttemptTicks), TimeSpan.Zero) - _time.GetUtcNow();
                if (wait <= TimeSpan.Zero)
                {
                    return false;
                }
                if (!await WaitToReadAsync(reader, wait).ConfigureAwait(false))
                {
                    return reader.Completion.IsCompleted;
                }
                continue;
            }
            if (!await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>True when an item can be read within <paramref name="wait"/>.</summary>
    private async Task<bool> WaitToReadAsync(ChannelReader<object> reader, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait, _time);
        try
        {
            return await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Sends <paramref name="batch"/>, or puts it after the buffered events when there are any or Tally does not take it.</summary>
    private async Task DeliverAsync(List<EventDto> batch)
    {
        if (!_online || _buffer.Count > 0 || _hurry.IsCancellationRequested)
        {
            Buffer(batch);
            return;
        }
        var left = await PostAsync(batch).ConfigureAwait(false);
        if (left.Count > 0)
        {
            Buffer(left);
        }
        else if (_reportPending)
        {
            await ReportAsync().ConfigureAwait(false);
        }
    }

    private void Buffer(IReadOnlyList<EventDto> events)
    {
        var dropped = _buffer.Append(events, _options.BufferMaxEvents, _options.WhenBufferFull, _time.GetUtcNow());
        if (dropped > 0)
        {
            Interlocked.Add(ref _dropped, dropped);
            _reportPending = true;
            LogBufferFull(_log, _options.BufferMaxEvents, dropped, _options.WhenBufferFull);
        }
    }

    /// <summary>
    /// Delivers the buffer oldest first; with nothing buffered while offline, asks whether Tally is back; then, Tally
    /// reachable and the buffer empty, the offline report. On the first failure, waits longer before the next try.
    /// </summary>
    private async Task ResendAsync()
    {
        if (_hurry.IsCancellationRequested)
        {
            return;
        }
        while (_buffer.Count > 0)
        {
            var rows = _buffer.Peek(_options.BatchSize);
            var left = await PostAsync(rows.Select(r => r.Event).ToList()).ConfigureAwait(false);
            if (left.Count == 0)
            {
                // Peek reads the oldest rows: all taken, they are one range.
                _buffer.RemoveThrough(rows[^1].Seq);
                continue;
            }
            var unsent = left.ToHashSet(ReferenceEqualityComparer.Instance);
            _buffer.Remove(rows.Where(r => !unsent.Contains(r.Event)).Select(r => r.Seq).ToList());
            return;
        }
        if (!_online && !await ProbeAsync().ConfigureAwait(false))
        {
            return;
        }
        if (_reportPending)
        {
            await ReportAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Whether Tally answers its readiness probe: how the sender learns it is back when it has nothing to send.</summary>
    private async Task<bool> ProbeAsync()
    {
        try
        {
            using var probe = await _http.GetAsync("health/ready", _hurry.Token).ConfigureAwait(false);
            if (probe.IsSuccessStatusCode)
            {
                Reachable();
                return true;
            }
            Unreachable($"{(int)probe.StatusCode} from /health/ready");
        }
        catch (Exception e) when (Transient(e))
        {
            Unreachable(e.Message);
        }
        return false;
    }

    /// <summary>
    /// Posts <paramref name="events"/> and returns those Tally did not take. A 400 names the bad event (<c>index</c>): it is
    /// dropped and logged, the others go again. A 413 halves the request. Anything else leaves them all for later.
    /// </summary>
    private async Task<IReadOnlyList<EventDto>> PostAsync(List<EventDto> events)
    {
        var pending = events;
        while (pending.Count > 0)
        {
            HttpResponseMessage response;
            try
            {
                response = await _http.PostAsJsonAsync("api/v1/events", pending, TallyJson.Options, _hurry.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (Transient(e))
            {
                Unreachable(e.Message);
                return pending;
            }
            using (response)
            {
                if (response.IsSuccessStatusCode)
                {
                    var results = await response.Content.ReadFromJsonAsync<List<EventResult>>(TallyJson.Options).ConfigureAwait(false) ?? [];
                    Interlocked.Add(ref _sent, pending.Count);
                    Interlocked.Add(ref _duplicates, results.Count(r => r.Decision == "duplicate"));
                    Reachable();
                    return [];
                }
                if (response.StatusCode == HttpStatusCode.BadRequest && await BadEventAsync(response).ConfigureAwait(false) is { } bad && bad.Index < pending.Count)
                {
                    // Tally refused the whole batch for one event (R12: never half-applies): that event can never be taken.
                    LogRejected(_log, pending[bad.Index].Id, bad.Field, bad.Reason);
                    Interlocked.Increment(ref _rejected);
                    pending = [.. pending.Where((_, i) => i != bad.Index)];
                    continue;
                }
                if (response.StatusCode == HttpStatusCode.RequestEntityTooLarge && pending.Count > 1)
                {
                    var half = pending.Count / 2;
                    var left = await PostAsync(pending[..half]).ConfigureAwait(false);
                    if (left.Count > 0)
                    {
                        return [.. left, .. pending[half..]];
                    }
                    pending = pending[half..];
                    continue;
                }
                Unreachable($"{(int)response.StatusCode} {await ProblemAsync(response).ConfigureAwait(false)}");
                return pending;
            }
        }
        return [];
    }

    /// <summary>The most grants one report carries (Tally takes up to 10,000): a long outage is reported in several.</summary>
    internal const int GrantsPerReport = 2_000;

    /// <summary>Sends the reports of what was decided offline, oldest first; the grace budget starts again as Tally has them.</summary>
    private async Task ReportAsync()
    {
        // Cleared first: a decision made offline while the reports go out sets it again and is sent next time.
        _reportPending = false;
        while (_buffer.PendingReport(_options.ClientName ?? Environment.MachineName,
            _options.OfflineAccess == OfflineAccessPolicy.FailOpen ? "fail-open" : "fail-closed", _options.OfflineGraceMinutes, GrantsPerReport) is { } pending)
        {
            try
            {
                using var response = await _http.PostAsJsonAsync("api/v1/offline-reports", pending.Report, TallyJson.Options, _hurry.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode && response.StatusCode is not (HttpStatusCode.NotFound or HttpStatusCode.BadRequest))
                {
                    _reportPending = true;
                    Unreachable($"{(int)response.StatusCode} {await ProblemAsync(response).ConfigureAwait(false)}");
                    return;
                }
                if (!response.IsSuccessStatusCode)
                {
                    // A server without the route, or one that refuses the report: it cannot be delivered, keeping it helps nobody.
                    LogReportRefused(_log, (int)response.StatusCode, await ProblemAsync(response).ConfigureAwait(false));
                }
                _buffer.Reported(pending.ThroughSeq);
                _offline.Reload(_buffer.Grants());
                Reachable();
            }
            catch (Exception e) when (Transient(e))
            {
                _reportPending = true;
                Unreachable(e.Message);
                return;
            }
        }
    }

    /// <summary>Failures that say Tally (or the way to it) is down, not that the request is wrong; a shutdown's cancel is one too: the events stay.</summary>
    internal static bool Transient(Exception e) => e is HttpRequestException or TimeoutException or OperationCanceledException or Polly.ExecutionRejectedException;

    private void Reachable()
    {
        _resendDelay = _options.RetryDelay;
        if (!_online)
        {
            _online = true;
            LogOnline(_log, _buffer.Count);
        }
    }

    private void Unreachable(string why)
    {
        GoOffline(why);
        // Full jitter between half and the whole of the delay, which doubles up to MaxResendDelay.
        var delay = _resendDelay * (0.5 + (Random.Shared.NextDouble() / 2));
        _resendDelay = TimeSpan.FromTicks(Math.Min(_options.MaxResendDelay.Ticks, Math.Max(_resendDelay.Ticks * 2, TimeSpan.FromMilliseconds(100).Ticks)));
        Interlocked.Exchange(ref _nextAttemptTicks, (_time.GetUtcNow() + delay).UtcTicks);
    }

    private void GoOffline(string why)
    {
        if (_online)
        {
            Interlocked.Exchange(ref _offlineSinceTicks, _time.GetUtcNow().UtcTicks);
            _online = false;
            LogOffline(_log, why);
        }
    }

    private sealed record BadEvent(int Index, string? Field, string? Reason);

    private static async Task<BadEvent?> BadEventAsync(HttpResponseMessage response)
    {
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
            var root = doc.RootElement;
            return root.TryGetProperty("index", out var index) && index.TryGetInt32(out var i)
                ? new BadEvent(i, Text(root, "field"), Text(root, "reason") ?? Text(root, "detail"))
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<string> ProblemAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(body);
            return Text(doc.RootElement, "detail") ?? Text(doc.RootElement, "title") ?? "";
        }
        catch (JsonException)
        {
            return body.Length > 200 ? body[..200] : body;
        }
    }

    private static string? Text(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tally is unreachable ({Why}); events go to the local buffer until it is back")]
    private static partial void LogOffline(ILogger log, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tally is reachable again; {Buffered} buffered events left to send")]
    private static partial void LogOnline(ILogger log, long buffered);

    [LoggerMessage(Level = LogLevel.Error, Message = "Tally refused event {Id} for good ({Field}: {Reason}); it is dropped, the rest of its batch is sent")]
    private static partial void LogRejected(ILogger log, string? id, string? field, string? reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The local buffer is full ({Max} events): {Dropped} events dropped ({Policy}); the offline report tells Tally")]
    private static partial void LogBufferFull(ILogger log, long max, long dropped, BufferFullPolicy policy);

    [LoggerMessage(Level = LogLevel.Error, Message = "The in-memory queue is full ({Capacity} events): an event was dropped")]
    private static partial void LogQueueFull(ILogger log, int capacity);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event {Id} was tracked after the client stopped: it is dropped")]
    private static partial void LogStopped(ILogger log, string? id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tally refused the offline report ({Status} {Problem}); it is discarded")]
    private static partial void LogReportRefused(ILogger log, int status, string problem);
}
