using System.Threading.Channels;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary>One validated event from a request, still as names: the tenant's writer interns them.</summary>
public sealed record IncomingEvent(string? Id, string User, string Device, string App, MeterAction Action, string? ClientTime);

/// <summary>One decision for the wire: a user event has one, a scheduled reload one per key it touched.</summary>
public sealed record DecisionOutcome(string User, DecisionKind Kind, DenyReason Reason, long UnitStartTicks, long UnitEndTicks, long RetryAfterTicks, int Minutes);

/// <summary>The result of one event: the server's stamp and its decisions (none for a reload nobody was connected to).</summary>
public sealed record EventOutcome(long TimeTicks, IReadOnlyList<DecisionOutcome> Decisions);

/// <summary>The ledger could not commit: the request failed and nothing of it was applied.</summary>
public sealed class LedgerUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Read-only figures the reports need from the live meter; replaced as a whole after each batch. <c>Seats</c> lists every
/// seat held now: explicit assignments, then auto-assigned ones in the order they were handed out.
/// </summary>
public sealed record TenantSnapshot(TenantConfig Config, int ProfessionalSeatsUsed, int AnalyzerSeatsUsed, long EventsApplied, PoolUsage? CurrentPool,
    IReadOnlyList<SeatAssignment> Seats);

/// <summary>
/// A Professional or Analyzer seat and who holds it (Qlik calls it an assignment). <c>Since</c>: when it was assigned
/// (the plan edit for an explicit seat; for an auto-assigned one, the user's first event under the terms that handed it
/// out). <c>Explicit</c>: assigned in the allocation plan rather than by auto-assignment. <c>Seen</c>: the user has sent
/// at least one event. <c>Excess</c>: beyond the license's count of seats of this type (a license with fewer seats than
/// the plan assigns).
/// </summary>
public sealed record SeatAssignment(string User, Allocation Seat, DateTimeOffset Since, bool Explicit, bool Seen, bool Excess);

/// <summary>
/// The single writer of one tenant's pool. Requests enqueue work; one loop owns the <see cref="Meter"/> and the
/// symbol tables, drains what is queued, stamps the events with the server's clock (R10), applies them, appends
/// events, decisions and units in ONE transaction (group commit), and only then completes the requests. When a
/// commit fails, the meter is rebuilt from the ledger, so memory never runs ahead of disk, and the group's requests
/// are retried one by one, so only a request the ledger refuses fails.
/// </summary>
public sealed class TenantWriter : IAsyncDisposable
{
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _tenant;
    private readonly ILedgerStore _store;
    private readonly TimeProvider _time;
    private readonly Func<string?, string?, TenantConfig> _configFrom;
    private readonly int _maxGroupEvents;
    private readonly Task _loop;
    private readonly TallyMetrics? _metrics;
    private Meter _meter = null!;
    private UserDirectory? _directory;
    private SymbolTable _users = null!, _devices = null!, _apps = null!;
    private TenantConfig _config = null!;
    private long _applied;
    private bool _broken;
    private readonly TimeSpan? _idMemory;

    // Auto-assigned seats and when each was handed out; a seat the same user keeps across a terms change keeps its time.
    private readonly Dictionary<string, (Allocation Seat, long Ticks)> _autoSince = new(StringComparer.Ordinal);
    private int _stamped;
    private long _termsTicks;
    private IReadOnlyList<SeatAssignment> _seats = [];
    private bool _seatsStale = true;
    private int _usersAtSeats;
    private bool _anyUnseen;

    /// <summary>
    /// Starts the writer of <paramref name="tenant"/>; <paramref name="configFrom"/> builds terms from a stored license key
    /// and plan document (either may be null); <paramref name="idMemory"/> is how long the meter remembers accepted event
    /// ids (null: for ever), older ones being checked in the ledger.
    /// </summary>
    public TenantWriter(string tenant, ILedgerStore store, TimeProvider time, Func<string?, string?, TenantConfig> configFrom, int maxGroupEvents,
        TallyMetrics? metrics = null, TimeSpan? idMemory = null)
    {
        _idMemory = idMemory;
        _metrics = metrics;
        _tenant = tenant;
        _store = store;
        _time = time;
        _configFrom = configFrom;
        _maxGroupEvents = maxGroupEvents;
        Rebuild();
        // A thread of its own: on a busy thread pool (many connections on few cores) a pooled loop waits in line behind
        // the requests it is meant to answer, and every group commit is delayed by that queue.
        _loop = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public string Tenant => _tenant;

    /// <summary>Told after each batch is durable, with the entries just committed; must not block (issue 6: alerts).</summary>
    public Monitoring.ICommitObserver? Observer { get; init; }

    public TenantSnapshot Snapshot { get; private set; } = null!;

    /// <summary>Held while the allocation plan is read, changed and saved, so two edits never lose one another.</summary>
    public SemaphoreSlim PlanEdits { get; } = new(1, 1);

    /// <summary>Applies <paramref name="events"/> in order; completes once they are durable.</summary>
    public Task<IReadOnlyList<EventOutcome>> SubmitAsync(IReadOnlyList<IncomingEvent> events)
    {
        var work = new EventWork(events);
        return _queue.Writer.TryWrite(work) ? work.Done.Task : Task.FromException<IReadOnlyList<EventOutcome>>(new ObjectDisposedException(nameof(TenantWriter)));
    }

    /// <summary>
    /// Imports past events (the demo's history) with their own instants, through the same meter and group commit as
    /// live events, so the single-writer rule holds. <paramref name="ticks"/> gives each event's UTC instant and must
    /// not decrease; an instant behind the meter is moved up to it, as a live stamp would be.
    /// </summary>
    public Task<IReadOnlyList<EventOutcome>> ImportAsync(IReadOnlyList<IncomingEvent> events, IReadOnlyList<long> ticks)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(ticks.Count, events.Count);
        var work = new EventWork(events) { Ticks = ticks };
        return _queue.Writer.TryWrite(work) ? work.Done.Task : Task.FromException<IReadOnlyList<EventOutcome>>(new ObjectDisposedException(nameof(TenantWriter)));
    }

    /// <summary>
    /// Puts the stored license and plan into force after the events queued before this call: the change is recorded at
    /// that position in the ledger and the meter continues under the new terms (nothing already decided changes).
    /// </summary>
    public Task ReconfigureAsync()
    {
        var work = new ReconfigureWork();
        return _queue.Writer.TryWrite(work) ? work.Done.Task : Task.FromException(new ObjectDisposedException(nameof(TenantWriter)));
    }

    private void Run()
    {
        var batch = new List<EventWork>();
        while (WaitForWork())
        {
            var count = 0;
            while (count < _maxGroupEvents && _queue.Reader.TryRead(out var work))
            {
                if (work is EventWork events)
                {
                    batch.Add(events);
                    count += events.Events.Count;
                    continue;
                }
                // A reconfiguration applies after everything queued before it.
                Commit(batch);
                batch.Clear();
                count = 0;
                Reconfigure((ReconfigureWork)work);
            }
            Commit(batch);
            batch.Clear();
        }
    }

    private bool WaitForWork()
    {
        var wait = _queue.Reader.WaitToReadAsync();
        if (wait.IsCompleted)
        {
            return wait.Result;
        }
        // Block on the task's wait handle: Task.Wait would spin first, burning a core the requests need.
        var task = wait.AsTask();
        ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
        return task.Result;
    }

    private void Reconfigure(ReconfigureWork work)
    {
        try
        {
            if (_broken)
            {
                Rebuild(); // it records the stored terms itself when they differ from the last recorded ones
            }
            else
            {
                RecordAndApplyStoredTerms(_store.EventCount(_tenant));
                PublishSnapshot();
            }
            work.Done.TrySetResult();
        }
        catch (Exception e)
        {
            work.Done.TrySetException(e);
        }
    }

    /// <summary>
    /// Commits a group. When the ledger refuses the group, one request must not fail the others queued with it (one
    /// event PostgreSQL could not store once failed every request of its group and forced a replay): the meter is put
    /// back to what the ledger holds, then each request is committed on its own, so only a request the ledger refuses
    /// fails. A refusal by a ledger that takes no write at all (disk full, read-only, unreachable) fails the rest of the
    /// group at once instead of replaying the tenant's history once per request.
    /// </summary>
    private void Commit(List<EventWork> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }
        if (_broken)
        {
            try
            {
                Rebuild();
            }
            catch (Exception e)
            {
                Fail(batch, new LedgerUnavailableException("The ledger is unavailable; nothing was applied. Retry with the same ids.", e));
                return;
            }
        }
        if (TryCommit(batch) is not { } failure)
        {
            return;
        }
        if (batch.Count == 1)
        {
            Fail(batch, failure);
            TryRebuild();
            return;
        }
        if (!TryRebuild())
        {
            Fail(batch, failure);
            return;
        }
        foreach (var work in batch)
        {
            if (_broken)
            {
                Fail([work], failure);
            }
            else if (TryCommit([work]) is { } own)
            {
                Fail([work], own);
                if (_store.CheckWritable() is null)
                {
                    TryRebuild();
                }
                else
                {
                    // The ledger itself is down, not this request: the rest fail now, the next group rebuilds first.
                    _broken = true;
                }
            }
        }
    }

    private static void Fail(IReadOnlyList<EventWork> works, LedgerUnavailableException failure)
    {
        foreach (var work in works)
        {
            work.Done.TrySetException(failure);
        }
    }

    /// <summary>
    /// Applies <paramref name="batch"/> to the meter and appends it in one transaction; completes its requests and
    /// returns null once durable. On failure nothing is completed and the meter is ahead of the ledger: the caller
    /// rebuilds it before anything else is applied.
    /// </summary>
    private LedgerUnavailableException? TryCommit(IReadOnlyList<EventWork> batch)
    {
        // Server time decides (R10); never let it step back behind the ledger (a clock moved back, or a restart).
        var now = Math.Max(_time.GetUtcNow().UtcTicks, _meter.LastTicks);
        var forgotten = ForgottenIdsIn(batch, now);
        var entries = new List<LedgerEntry>();
        var results = new List<IReadOnlyList<EventOutcome>>(batch.Count);
        var sink = new Sink(this);
        try
        {
            foreach (var work in batch)
            {
                var outcomes = new EventOutcome[work.Events.Count];
                for (var i = 0; i < work.Events.Count; i++)
                {
                    var incoming = work.Events[i];
                    var at = Math.Max(work.Ticks?[i] ?? now, _meter.LastTicks);
                    var e = Parse(incoming, at);
                    sink.Begin();
                    if (incoming.Id is { } id && forgotten?.Contains(id) == true)
                    {
                        _meter.ApplyDuplicate(e, sink); // accepted before the meter's id window: the ledger knows it
                    }
                    else
                    {
                        _meter.Apply(e, sink);
                    }
                    _applied++;
                    StampNewSeats(at);
                    outcomes[i] = new EventOutcome(at, sink.Outcomes);
                    if (!sink.IsDuplicate)
                    {
                        entries.Add(new LedgerEntry(incoming.Id, at, incoming.ClientTime, incoming.User, incoming.Device, incoming.App,
                            incoming.Action.ToWire(), sink.Decisions, sink.Units));
                    }
                }
                results.Add(outcomes);
            }
            _store.Append(_tenant, entries);
        }
        catch (Exception e)
        {
            _metrics?.Commit(false);
            _broken = true; // the meter has applied what the ledger did not take
            return new LedgerUnavailableException("The ledger could not record the events; nothing was applied. Retry with the same ids.", e);
        }
        PublishSnapshot();
        Observer?.Committed(_tenant, entries); // alerting: hands over and returns at once (Monitoring/AlertEvaluator)
        if (_metrics is { } metrics)
        {
            metrics.Commit(true);
            foreach (var decision in results.SelectMany(r => r).SelectMany(o => o.Decisions))
            {
                metrics.Decision(decision.Kind, decision.Reason);
            }
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(results[i]);
        }
        return null;
    }

    /// <summary>
    /// The ids of <paramref name="batch"/> that were accepted before the meter's id window (R10: a duplicate at any time
    /// in the tenant's history). The meter first forgets what falls out of the window by the batch's latest instant, so
    /// nothing it still remembers now can be forgotten while the batch is applied; what it no longer remembers is asked
    /// of the ledger's unique index, once per batch, and only once the meter has forgotten anything at all.
    /// </summary>
    private IReadOnlySet<string>? ForgottenIdsIn(IReadOnlyList<EventWork> batch, long now)
    {
        if (_idMemory is null)
        {
            return null;
        }
        _meter.ForgetIds(batch.Select(w => w.Ticks is { Count: > 0 } ticks ? ticks.Max() : now).Append(now).Max());
        if (_meter.ForgottenIds == 0)
        {
            return null;
        }
        var unknown = batch.SelectMany(w => w.Events).Select(e => e.Id).OfType<string>().Where(id => !_meter.Remembers(id))
            .ToHashSet(StringComparer.Ordinal);
        return unknown.Count == 0 ? null : _store.KnownEventIds(_tenant, unknown);
    }

    /// <summary>Rebuilds the meter from the ledger; false (and rebuilt before the next group) when the ledger cannot be read.</summary>
    private bool TryRebuild()
    {
        try
        {
            Rebuild();
            return true;
        }
        catch (Exception)
        {
            // The ledger is still unreachable: keep the old meter out of use by rebuilding again on the next batch.
            _broken = true;
            return false;
        }
    }

    private MeterEvent Parse(IncomingEvent incoming, long ticks)
    {
        var fields = new EventFields([], incoming.User, incoming.Device, incoming.App, incoming.Action.ToWire(), incoming.Id);
        // The text rule was applied at the edge; the single writer's loop does not scan every name twice.
        if (EventValidation.Validate(fields, false, _users, _devices, _apps, out var parsed, out _, checkText: false) is { } error)
        {
            // Validated at the edge and again on replay: reaching this is a bug, not bad input.
            throw new InvalidOperationException($"An accepted event failed validation: {error}");
        }
        return parsed with { TimeTicks = ticks };
    }

    /// <summary>
    /// Replays the tenant's ledger, in recorded order with the recorded stamps, into a fresh meter, putting each
    /// recorded terms change into force at its recorded position, so the meter reaches exactly the state it had.
    /// </summary>
    private void Rebuild()
    {
        _broken = true;
        _autoSince.Clear();
        _stamped = 0;
        _seatsStale = true;
        _users = new SymbolTable();
        _devices = new SymbolTable();
        _apps = new SymbolTable();
        var changes = _store.TermsChanges(_tenant);
        // A ledger written before terms were recorded knows only the current terms: they govern from the start.
        var (initialKey, initialPlan) = changes.Count == 0 ? StoredTerms() : (null, null);
        _terms = (initialKey, initialPlan);
        _config = _configFrom(initialKey, initialPlan);
        _termsTicks = _store.GetTenant(_tenant)?.Created.UtcTicks ?? 0;
        _meter = new Meter(_config.MeterOptions, DirectoryFor(_config)) { IdMemory = _idMemory };
        var discard = new DiscardSink();
        _applied = 0;
        long replayed = 0;
        var next = 0;
        foreach (var stored in _store.Events(_tenant))
        {
            for (; next < changes.Count && changes[next].AfterEvents <= replayed; next++)
            {
                Apply(changes[next].LicenseKey, changes[next].PlanJson, changes[next].At.UtcTicks);
            }
            if (!MeterActions.TryParse(stored.Action, out _))
            {
                throw new InvalidOperationException($"Ledger event {stored.Seq} has an unknown action '{stored.Action}'.");
            }
            var fields = new EventFields([], stored.User, stored.Device, stored.App, stored.Action, stored.EventId);
            // What the ledger holds is replayed as recorded, even text accepted before the text rule (R12) existed.
            if (EventValidation.Validate(fields, false, _users, _devices, _apps, out var parsed, out _, checkText: false) is { } error)
            {
                throw new InvalidOperationException($"Ledger event {stored.Seq} is invalid: {error}");
            }
            _meter.Apply(parsed with { TimeTicks = Math.Max(stored.TimeTicks, _meter.LastTicks) }, discard);
            _applied++;
            StampNewSeats(_meter.LastTicks);
            replayed++;
        }
        for (; next < changes.Count; next++)
        {
            Apply(changes[next].LicenseKey, changes[next].PlanJson, changes[next].At.UtcTicks);
        }
        // Terms stored but never recorded (a crash between storing and recording): they take effect now.
        RecordAndApplyStoredTerms(replayed);
        _broken = false;
        PublishSnapshot();
    }

    private (string? Key, string? Plan) _terms;

    private (string? Key, string? Plan) StoredTerms() => (_store.GetLicense(_tenant)?.Key, _store.GetPlan(_tenant));

    /// <summary>Records the stored terms at position <paramref name="afterEvents"/> and applies them, unless they are already in force.</summary>
    private void RecordAndApplyStoredTerms(long afterEvents)
    {
        var (key, plan) = StoredTerms();
        if (key == _terms.Key && plan == _terms.Plan)
        {
            return;
        }
        var at = _time.GetUtcNow();
        _store.RecordTermsChange(_tenant, new TermsChange(afterEvents, key, plan, at));
        Apply(key, plan, at.UtcTicks);
    }

    private void Apply(string? key, string? plan, long atTicks)
    {
        _terms = (key, plan);
        _config = _configFrom(key, plan);
        _termsTicks = atTicks;
        _meter.ChangeTerms(_config.MeterOptions, DirectoryFor(_config));
        // The new directory re-resolved every known user: seats kept keep their time, new ones date from this change.
        _stamped = 0;
        StampNewSeats(atTicks);
        var holders = _directory?.AutoAssigned.Select(h => h.User).ToHashSet(StringComparer.Ordinal) ?? [];
        foreach (var gone in _autoSince.Keys.Where(u => !holders.Contains(u)).ToList())
        {
            _autoSince.Remove(gone);
        }
        _seatsStale = true;
    }

    /// <summary>Dates the seats auto-assigned since the last call (one comparison per event when there are none).</summary>
    private void StampNewSeats(long ticks)
    {
        if (_directory is not { } directory || directory.AutoAssigned.Count == _stamped)
        {
            return;
        }
        for (; _stamped < directory.AutoAssigned.Count; _stamped++)
        {
            var holder = directory.AutoAssigned[_stamped];
            if (!(_autoSince.TryGetValue(holder.User, out var known) && known.Seat == holder.Seat))
            {
                _autoSince[holder.User] = (holder.Seat, ticks);
            }
        }
        _seatsStale = true;
    }

    /// <summary>The seat list for the snapshot, rebuilt only when seats changed or a user it lists as unseen may have appeared.</summary>
    private IReadOnlyList<SeatAssignment> CurrentSeats()
    {
        if (!_seatsStale && !(_anyUnseen && _users.Count != _usersAtSeats))
        {
            return _seats;
        }
        var seats = new List<SeatAssignment>();
        foreach (var row in _config.Plan.Users)
        {
            if (row is not null && AllocationNames.FromWire(row.Allocation) is var seat && seat.IsSeat())
            {
                seats.Add(new SeatAssignment(row.User, seat, row.Assigned ?? new DateTimeOffset(_termsTicks, TimeSpan.Zero), true, _users.TryGet(row.User, out _), false));
            }
        }
        foreach (var holder in _directory?.AutoAssigned ?? [])
        {
            seats.Add(new SeatAssignment(holder.User, holder.Seat, new DateTimeOffset(_autoSince[holder.User].Ticks, TimeSpan.Zero), false, true, false));
        }
        // Seats beyond the license's count (the oldest hold theirs): only a plan that no longer fits its license has any.
        var licensed = _config.Seats;
        var excess = seats.Where(s => s.Seat == Allocation.Professional).OrderBy(s => s.Since).Skip(licensed.ProfessionalSeats)
            .Concat(seats.Where(s => s.Seat == Allocation.Analyzer).OrderBy(s => s.Since).Skip(licensed.AnalyzerSeats))
            .Select(s => s.User).ToHashSet(StringComparer.Ordinal);
        _seats = [.. seats.Select(s => excess.Contains(s.User) ? s with { Excess = true } : s)];
        _anyUnseen = _seats.Any(s => !s.Seen);
        _usersAtSeats = _users.Count;
        _seatsStale = false;
        return _seats;
    }

    private IUserDirectory DirectoryFor(TenantConfig config)
    {
        _directory = UserDirectory.Create(config.Plan.ToPlan(out _), config.Seats, _users).Directory;
        return (IUserDirectory?)_directory ?? EveryoneCapacity.Instance;
    }

    private void PublishSnapshot() => Snapshot = new TenantSnapshot(_config, _directory?.ProfessionalSeatsUsed ?? 0, _directory?.AnalyzerSeatsUsed ?? 0, _applied,
        _meter.Pools().Select(p => (PoolUsage?)p).LastOrDefault(), CurrentSeats());

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private abstract class Work;

    private sealed class EventWork(IReadOnlyList<IncomingEvent> events) : Work
    {
        public IReadOnlyList<IncomingEvent> Events { get; } = events;
        /// <summary>The events' own instants (an import); null: stamped with the server clock.</summary>
        public IReadOnlyList<long>? Ticks { get; init; }
        public TaskCompletionSource<IReadOnlyList<EventOutcome>> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class ReconfigureWork : Work
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class DiscardSink : IDecisionSink
    {
        public void Add(in MeterEvent e, in Decision decision)
        {
        }
    }

    /// <summary>Collects one event's decisions as wire outcomes, ledger decisions and granted units.</summary>
    private sealed class Sink(TenantWriter writer) : IDecisionSink
    {
        public List<DecisionOutcome> Outcomes { get; private set; } = [];
        public List<StoredDecision> Decisions { get; private set; } = [];
        public List<StoredUnit> Units { get; private set; } = [];
        public bool IsDuplicate { get; private set; }

        public void Begin()
        {
            Outcomes = [];
            Decisions = [];
            Units = [];
            IsDuplicate = false;
        }

        public void Add(in MeterEvent e, in Decision d)
        {
            var user = d.User == 0 ? "" : writer._users.NameOf(d.User);
            var app = d.App == 0 ? "" : writer._apps.NameOf(d.App);
            Outcomes.Add(new DecisionOutcome(user, d.Kind, d.Reason, d.UnitStartTicks, d.UnitEndTicks, d.RetryAfterTicks, d.Minutes));
            if (d.Kind == DecisionKind.Duplicate)
            {
                IsDuplicate = true;
                return;
            }
            Decisions.Add(new StoredDecision(d.Kind.ToWire(), d.Reason.ToWire(), user, app, d.Period.ToString(),
                d.UnitStartTicks, d.UnitEndTicks, d.RetryAfterTicks, d.Minutes));
            if (d.StartsUnit)
            {
                var (usage, allotment) = (writer._meter.TermsOf(d.User)?.Allocation ?? Allocation.Capacity).ToAllotment();
                var device = e.Device == 0 ? "" : writer._devices.NameOf(e.Device);
                Units.Add(new StoredUnit(0, user, device, app, d.Period.ToString(), d.UnitStartTicks, d.UnitEndTicks, d.Minutes, usage, allotment));
            }
        }
    }
}
