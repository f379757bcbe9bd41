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

/// <summary>
/// What an import of observed records did (R13): records new to the ledger, records it already held unchanged, and the
/// ids of records seen again with other content (the first version stays; the source's status reports them).
/// </summary>
public sealed record ObserveOutcome(int Added, int Repeated, IReadOnlyList<string> Conflicts);

/// <summary>The ledger could not commit: the request failed and nothing of it was applied.</summary>
public sealed class LedgerUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Read-only figures the reports need from the live meter; replaced as a whole after each batch. <c>Seats</c> lists every
/// seat held now: explicit assignments, then auto-assigned ones in the order they were handed out.
/// </summary>
public sealed record TenantSnapshot(TenantConfig Config, int ProfessionalSeatsUsed, int AnalyzerSeatsUsed, long EventsRecorded, int TermsChanges,
    PoolUsage? CurrentPool, IReadOnlyList<SeatAssignment> Seats, PlanCaps Caps);

/// <summary>
/// A Professional or Analyzer seat and who holds it (Qlik calls it an assignment). <c>Since</c>: when it was assigned
/// (the plan edit for an explicit seat; for an auto-assigned one, the user's first event under the terms that handed it
/// out). <c>Explicit</c>: assigned in the allocation plan rather than by auto-assignment. <c>Seen</c>: the user has sent
/// at least one event. <c>Excess</c>: beyond the license's count of seats of this type (a license with fewer seats than
/// the plan assigns).
/// </summary>
public sealed record SeatAssignment(string User, Allocation Seat, DateTimeOffset Since, bool Explicit, bool Seen, bool Excess);

/// <summary>
/// The single writer of one tenant's pool: the loop and the group commit, nothing else. Requests enqueue work; one
/// loop owns the tenant's <see cref="TenantState"/> (meter, names, terms, seats), drains what is queued, stamps the
/// events with the server's clock (R10), applies them, appends events, decisions and units (<see cref="DecisionRows"/>)
/// in ONE transaction, and only then completes the requests. When a commit fails, the state is recovered anew from the
/// ledger, so memory never runs ahead of disk, and the group's requests are retried one by one, so only a request the
/// ledger refuses fails. Every commit is fenced by the writer's <see cref="Claim"/>: once one is refused because another
/// writer claimed the tenant, this one is <see cref="Fenced"/> for good and fails everything without a rebuild.
/// </summary>
public sealed class TenantWriter : IAsyncDisposable, IWriterTurn
{
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _tenant;
    private readonly ILedgerStore _store;
    private readonly TimeProvider _time;
    private readonly Func<string?, string?, TenantConfig> _configFrom;
    private readonly int _maxGroupEvents;
    private readonly WriterThreads _threads;
    private readonly TallyMetrics? _metrics;
    private readonly TimeSpan? _idMemory;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Null while asleep (evicted): rebuilt from the ledger by the next pass that needs it, as after a failed commit.
    private TenantState? _state;

    /// <summary>The state a pass works on; a pass that finds the writer asleep or broken rebuilds it first.</summary>
    private TenantState State => _state ?? throw new InvalidOperationException($"Tenant {_tenant}'s writer is asleep: rebuild before use.");
    private bool _broken;
    // Set once, by the commit that found another writer's claim on the tenant: from then on nothing is committed or rebuilt.
    private LedgerFencedException? _fence;
    // 1 while this writer is in the threads' line or running: it is scheduled once, so one thread runs it at a time.
    private int _scheduled;
    private long _lastWorkTicks;
    // The group a pass gathers; one list for every pass, as only one thread runs this writer at a time.
    private readonly List<EventWork> _batch = [];
    // The group an earlier pass metered whose commit may still be running on another writer thread (null: none).
    private GroupCommit? _inFlight;
    // When pending last activity was last handed to an append (0: at the next group), and the timer that records it
    // for a tenant that went quiet; both the writer loop's alone.
    private long _activityRecordedTicks;
    private ITimer? _activityTimer;
    private bool _activityTimerArmed;

    /// <summary>
    /// How long the pages' last activity may lag the ledger: the marks of a busy tenant's groups are gathered and
    /// recorded with the first group after this (or by a timer when none comes), not with every group. Every active
    /// user is one row per interval: at one second, 10,000 users busy in every group cost PostgreSQL ingest 15 %; at
    /// five, about 1 % (bench/load, docs/performance.md).
    /// </summary>
    internal static readonly TimeSpan ActivityInterval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Starts the writer of <paramref name="tenant"/>; <paramref name="configFrom"/> builds terms from a stored license key
    /// and plan document (either may be null); <paramref name="idMemory"/> is how long the meter remembers accepted event
    /// ids (null: for ever), older ones being checked in the ledger. <paramref name="owner"/> names this writer in the
    /// tenant's claim (default: this machine and process): the writer claims the tenant before it replays the ledger, so
    /// the replay sees all an earlier owner committed and that owner commits nothing more.
    /// </summary>
    public TenantWriter(string tenant, ILedgerStore store, TimeProvider time, Func<string?, string?, TenantConfig> configFrom, int maxGroupEvents,
        WriterThreads threads, TallyMetrics? metrics = null, TimeSpan? idMemory = null, string? owner = null)
    {
        _threads = threads;
        _idMemory = idMemory;
        _metrics = metrics;
        _tenant = tenant;
        _store = store;
        _time = time;
        _configFrom = configFrom;
        _maxGroupEvents = maxGroupEvents;
        _lastWorkTicks = time.GetUtcNow().UtcTicks;
        Claim = store.ClaimTenant(tenant, owner ?? $"{Environment.MachineName}:{Environment.ProcessId}", time.GetUtcNow());
        Rebuild();
    }

    public string Tenant => _tenant;

    /// <summary>This writer's claim on the tenant: every commit it makes is fenced by it.</summary>
    public TenantClaim Claim { get; }

    /// <summary>
    /// Whether another writer has claimed the tenant since this one did and a commit of this one was refused for it:
    /// then every request fails (<see cref="LedgerUnavailableException"/>, retry with the same ids) and the writer is of
    /// no more use. It never rebuilds: it is no longer the owner.
    /// </summary>
    public bool Fenced => Volatile.Read(ref _fence) is not null;

    /// <summary>Told once, on a writer thread, when the writer becomes <see cref="Fenced"/>, so its owner can drop it; must not block.</summary>
    public Action<TenantWriter>? OnFenced { get; init; }

    /// <summary>Told after each batch is durable, with the entries just committed; must not block (issue 6: alerts).</summary>
    public Monitoring.ICommitObserver? Observer { get; init; }

    public TenantSnapshot Snapshot { get; private set; } = null!;

    /// <summary>
    /// Whether the tenant observes a source of usage (R13) rather than being metered by Tally: set from its sources when
    /// the writer starts and whenever one is added or removed. An observing tenant takes no events.
    /// </summary>
    public bool Observing { get => Volatile.Read(ref _observing); set => Volatile.Write(ref _observing, value); }

    private bool _observing;

    /// <summary>The pool the tenant's source last reported (R13: it governs the reports when there is one); null: none.</summary>
    public Monitoring.ObservedPool? ObservedPool { get => Volatile.Read(ref _observedPool); set => Volatile.Write(ref _observedPool, value); }

    private Monitoring.ObservedPool? _observedPool;

    /// <summary>
    /// Who holds a seat in the tenant's sources, as their last pulls read them (R13): the seats an observing tenant's
    /// Qlik-shaped assignments and seat advisor show in place of its own. Empty until a source reports seats.
    /// </summary>
    public IReadOnlyList<SeatAssignment> ObservedSeats { get => Volatile.Read(ref _observedSeats); set => Volatile.Write(ref _observedSeats, value); }

    private IReadOnlyList<SeatAssignment> _observedSeats = [];

    /// <summary>
    /// A stamp of the tenant's sources and their last pulls (null: none), for the dashboard's version poll: a pull that
    /// records nothing still changes a source's status. Set from the stored sources, so it is the same after a restart.
    /// </summary>
    public string? SourcesStamp { get => Volatile.Read(ref _sourcesStamp); set => Volatile.Write(ref _sourcesStamp, value); }

    private string? _sourcesStamp;

    /// <summary>
    /// The tenant's working calendar as chosen (issue 16): set from the ledger when the writer starts and by
    /// <c>PUT /api/v1/calendar</c>. Setting it resolves it in the license's zone at once.
    /// </summary>
    public WorkCalendarSetting CalendarSetting
    {
        get => Volatile.Read(ref _calendar)?.Setting ?? WorkCalendarSetting.Default;
        set => Volatile.Write(ref _calendar, ResolvedCalendar.Of(value, Snapshot.Config.MeterOptions.TimeZone));
    }

    /// <summary>
    /// The calendar every forecast of this tenant uses (summary, alerts). Read from request threads: one immutable value
    /// swapped whole. The setting is resolved again when the license's zone is not the one it was resolved in (a new
    /// license moved it), here rather than in each path that installs terms, so no path can miss it; a set racing the
    /// re-derivation wins, as the compare-exchange keeps the newer setting.
    /// </summary>
    public WorkCalendar Calendar
    {
        get
        {
            var zone = Snapshot.Config.MeterOptions.TimeZone;
            while (true)
            {
                var current = Volatile.Read(ref _calendar);
                if (current is not null && current.ZoneId == zone.Id)
                {
                    return current.Calendar;
                }
                var fresh = ResolvedCalendar.Of(current?.Setting ?? WorkCalendarSetting.Default, zone);
                if (Interlocked.CompareExchange(ref _calendar, fresh, current) == current)
                {
                    return fresh.Calendar;
                }
            }
        }
    }

    private ResolvedCalendar? _calendar;

    /// <summary>Held while the calendar is stored and swapped, so two edits at once leave the writer with the one the ledger kept.</summary>
    public SemaphoreSlim CalendarEdits { get; } = new(1, 1);

    /// <summary>The seats the tenant's reports show: its source's when it observes one, else its own.</summary>
    public IEnumerable<SeatAssignment> Seats => Observing ? ObservedSeats : Snapshot.Seats;

    /// <summary>What kind of tenant the reports describe: <c>observed</c> or <c>metered</c>.</summary>
    public string Kind => Observing ? "observed" : "metered";

    /// <summary>Whether the meter is in memory (false: asleep, rebuilt from the ledger when work arrives).</summary>
    public bool IsAwake => Volatile.Read(ref _state) is not null;

    /// <summary>How long since work was last queued, on the server's clock.</summary>
    public TimeSpan IdleFor => TimeSpan.FromTicks(_time.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastWorkTicks));

    /// <summary>Held while the allocation plan is read, changed and saved, so two edits never lose one another.</summary>
    public SemaphoreSlim PlanEdits { get; } = new(1, 1);

    /// <summary>Applies <paramref name="events"/> in order; completes once they are durable.</summary>
    public Task<IReadOnlyList<EventOutcome>> SubmitAsync(IReadOnlyList<IncomingEvent> events)
    {
        var work = new EventWork(events);
        return Enqueue(work) ? work.Done.Task : Task.FromException<IReadOnlyList<EventOutcome>>(new ObjectDisposedException(nameof(TenantWriter)));
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
        return Enqueue(work) ? work.Done.Task : Task.FromException<IReadOnlyList<EventOutcome>>(new ObjectDisposedException(nameof(TenantWriter)));
    }

    /// <summary>
    /// Records what another license service decided (R13), after the events queued before this call: each record once
    /// per (source, record id), never metered, counted in the period of its end on the tenant's calendar. Completes once
    /// durable; a failure leaves the ledger as it was.
    /// </summary>
    public Task<ObserveOutcome> ObserveAsync(string source, IReadOnlyList<ObservedRecordRow> records)
    {
        var work = new ObserveWork(source, records);
        return Enqueue(work) ? work.Done.Task : Task.FromException<ObserveOutcome>(new ObjectDisposedException(nameof(TenantWriter)));
    }

    /// <summary>
    /// Puts the stored license and plan into force after the events queued before this call: the change is recorded at
    /// that position in the ledger and the meter continues under the new terms (nothing already decided changes).
    /// </summary>
    public Task ReconfigureAsync()
    {
        var work = new ReconfigureWork();
        return Enqueue(work) ? work.Done.Task : Task.FromException(new ObjectDisposedException(nameof(TenantWriter)));
    }

    /// <summary>
    /// Puts the meter to sleep once the work queued before this call is done: its memory is let go (the snapshot stays,
    /// so reports and seats still answer) and the next work rebuilds it from the ledger. Used for tenants idle a while.
    /// </summary>
    public Task SleepAsync()
    {
        var work = new SleepWork();
        return Enqueue(work) ? work.Done.Task : Task.CompletedTask;
    }

    private bool Enqueue(Work work)
    {
        if (work is not (SleepWork or RecordActivityWork))
        {
            Interlocked.Exchange(ref _lastWorkTicks, _time.GetUtcNow().UtcTicks);
        }
        if (!_queue.Writer.TryWrite(work))
        {
            return false;
        }
        ScheduleIfIdle();
        return true;
    }

    private void ScheduleIfIdle()
    {
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
        {
            _threads.Schedule(this);
        }
    }

    void IWriterTurn.Run() => RunPass();

    /// <summary>
    /// One turn on a writer thread: at most one group (<see cref="_maxGroupEvents"/> events, a reconfiguration closing it
    /// early), then back in line if more is queued, so other tenants get their turn between two groups of a busy one.
    /// The group is metered here and committed in a turn of its own (<see cref="GroupCommit"/>), so the next pass
    /// meters the next group on one writer thread while this one is written on another: one group in flight at most,
    /// and its requests are answered only once it is durable.
    /// </summary>
    internal void RunPass()
    {
        if (_inFlight is { Failed: true })
        {
            FinishInFlight(); // the failed group's requests come first: they were queued before anything still queued
        }
        var batch = _batch;
        var count = 0;
        while (count < _maxGroupEvents && _queue.Reader.TryRead(out var work))
        {
            if (work is EventWork events)
            {
                batch.Add(events);
                count += events.Events.Count;
                continue;
            }
            // A reconfiguration, a sleep or the stop applies after everything queued before it is durable.
            Commit(batch);
            batch.Clear();
            FinishInFlight();
            count = 0;
            switch (work)
            {
                case ReconfigureWork reconfigure:
                    Reconfigure(reconfigure);
                    break;
                case SleepWork sleep:
                    Sleep(sleep);
                    break;
                case ObserveWork observe:
                    Observe(observe);
                    break;
                case RecordActivityWork:
                    _activityTimerArmed = false;
                    RecordActivity();
                    break;
                case StopWork:
                    RecordActivity();
                    _activityTimer?.Dispose();
                    _stopped.TrySetResult();
                    break;
            }
        }
        CommitOverlapped(batch);
        batch.Clear();
        // Leave the line, then look again: work queued (or a commit failed) after the last look but before the flag was
        // cleared saw the writer scheduled and did not schedule it, so it is this pass's to pick up. The exchange is a
        // full fence: the failed commit's flag, set before its own attempt to schedule, is seen here if that attempt
        // was refused.
        Interlocked.Exchange(ref _scheduled, 0);
        if (_queue.Reader.TryPeek(out _) || _inFlight is { Failed: true })
        {
            ScheduleIfIdle();
        }
    }

    private void Sleep(SleepWork work)
    {
        if (!_queue.Reader.TryPeek(out _))
        {
            RecordActivity(); // if it fails, the wake-up takes the marks again from the ledger
            _activityTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _activityTimerArmed = false;
            Volatile.Write(ref _state, null);
            _broken = true;
        }
        work.Done.TrySetResult();
    }

    /// <summary>
    /// Appends the records the ledger does not hold yet, in one transaction, as <see cref="ObservedEntries"/> lays them
    /// out. The ledger's key on (tenant, source, record id) is the record of what was imported; the lookup before only
    /// sorts repeats from conflicts, and the single writer means nothing else appends for the tenant in between.
    /// </summary>
    private void Observe(ObserveWork work)
    {
        try
        {
            if (_broken)
            {
                Rebuild();
            }
            var state = State;
            var first = new Dictionary<string, ObservedRecordRow>(
                _store.ObservedRecords(_tenant, work.Source, [.. work.Records.Select(r => r.RecordId).Distinct(StringComparer.Ordinal)]), StringComparer.Ordinal);
            var entries = new List<LedgerEntry>();
            var repeated = 0;
            var conflicts = new List<string>();
            foreach (var record in work.Records)
            {
                if (first.TryGetValue(record.RecordId, out var kept))
                {
                    if (kept == record)
                    {
                        repeated++;
                    }
                    else
                    {
                        conflicts.Add(record.RecordId);
                    }
                    continue;
                }
                first[record.RecordId] = record;
                entries.Add(ObservedEntries.From(work.Source, record, state.Meter.Calendar.PeriodOf(record.EndTicks).ToString()));
            }
            if (entries.Count > 0)
            {
                _store.Append(_tenant, entries, activity: null, Claim);
                state.CountObserved(entries.Count);
                foreach (var entry in entries)
                {
                    state.Activity.Mark(entry.Period, entry.User, entry.App, entry.TimeTicks);
                }
                ArmActivityTimer(ActivityInterval);
                PublishSnapshot();
                Observer?.Committed(_tenant, entries);
            }
            work.Done.TrySetResult(new ObserveOutcome(entries.Count, repeated, conflicts));
        }
        catch (Exception e)
        {
            work.Done.TrySetException(Unavailable("The ledger could not record the observed records; nothing was recorded.", e));
        }
    }

    private void Reconfigure(ReconfigureWork work)
    {
        try
        {
            if (Fenced)
            {
                throw FencedFailure(); // even terms already in force: this writer answers for the tenant no more
            }
            if (_broken)
            {
                Rebuild(); // it records the stored terms itself when they differ from the last recorded ones
            }
            else
            {
                State.RecordAndApplyStoredTerms(_store.EventCount(_tenant));
                PublishSnapshot();
            }
            work.Done.TrySetResult();
        }
        catch (Exception e)
        {
            if (e is LedgerFencedException fence)
            {
                BecomeFenced(fence);
            }
            work.Done.TrySetException(Fenced ? FencedFailure() : e);
        }
    }

    /// <summary>
    /// Meters <paramref name="batch"/> now and hands its commit to a writer thread, unless the writer must first be
    /// rebuilt (then it commits here and now, as <see cref="Commit"/>). The commit of the group before it must be
    /// durable before this one is written: when it failed instead, what was metered here stood on a meter the ledger
    /// does not match, so it is dropped and the group is committed anew after the recovery.
    /// </summary>
    private void CommitOverlapped(List<EventWork> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }
        if (_broken || Fenced)
        {
            Commit(batch);
            return;
        }
        EventWork[] works = [.. batch];
        Metered metered;
        try
        {
            metered = MeterGroup(works);
        }
        catch (RecoveredException)
        {
            Commit(batch);
            return;
        }
        catch (Exception e)
        {
            _broken = true;
            FinishInFlight();
            Recover(works, MeteringFailed(e));
            return;
        }
        if (FinishInFlight())
        {
            Commit(batch);
            return;
        }
        _inFlight = new GroupCommit(this, works, metered);
        _threads.Schedule(_inFlight);
    }

    /// <summary>
    /// Waits for the group in flight, if any (or runs its commit here when no thread has taken it yet). True when that
    /// commit failed: the meter was then ahead of the ledger, so it has been recovered and that group's requests
    /// retried one by one (<see cref="Recover"/>); anything metered since is void.
    /// </summary>
    private bool FinishInFlight()
    {
        if (_inFlight is not { } commit)
        {
            return false;
        }
        _inFlight = null;
        if (commit.RunOrWait() is not { } failure)
        {
            return false;
        }
        _broken = true;
        Recover(commit.Batch, failure);
        return true;
    }

    /// <summary>Commits a group here and now: metered, appended and answered before this returns.</summary>
    private void Commit(List<EventWork> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }
        FinishInFlight();
        if (Fenced)
        {
            Fail(batch, FencedFailure());
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
                Fail(batch, Unavailable("The ledger is unavailable; nothing was applied. Retry with the same ids.", e));
                return;
            }
        }
        if (TryCommit(batch) is { } failure)
        {
            Recover(batch, failure);
        }
    }

    /// <summary>
    /// After the ledger refused a group: one request must not fail the others queued with it (one event PostgreSQL
    /// could not store once failed every request of its group and forced a replay): the meter is put back to what the
    /// ledger holds, then each request is committed on its own, so only a request the ledger refuses fails. A refusal by
    /// a ledger that takes no write at all (disk full, read-only, unreachable) fails the rest of the group at once
    /// instead of replaying the tenant's history once per request.
    /// </summary>
    private void Recover(IReadOnlyList<EventWork> batch, LedgerUnavailableException failure)
    {
        if (Fenced)
        {
            // Another writer owns the tenant: no request of the group can be committed here, one by one or otherwise.
            Fail(batch, FencedFailure());
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
            if (Fenced)
            {
                Fail([work], FencedFailure());
            }
            else if (_broken)
            {
                Fail([work], failure);
            }
            else if (TryCommit([work]) is { } own)
            {
                Fail([work], own);
                if (Fenced)
                {
                    continue; // the rest fail above, and nothing is rebuilt
                }
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
        Metered metered;
        try
        {
            metered = MeterGroup(batch);
        }
        catch (Exception e)
        {
            _broken = true; // the meter may have applied part of the group
            return MeteringFailed(e);
        }
        if (Durable(batch, metered) is { } failure)
        {
            _broken = true; // the meter has applied what the ledger did not take
            return failure;
        }
        return null;
    }

    private static LedgerUnavailableException MeteringFailed(Exception e) =>
        new("The events could not be applied; nothing was applied. Retry with the same ids.", e);

    /// <summary>
    /// A metered group: its ledger entries, each request's outcomes, the figures once it is durable, and the last
    /// activity it records (null: it stays pending, <see cref="PendingActivity"/>).
    /// </summary>
    private sealed record Metered(List<LedgerEntry> Entries, List<IReadOnlyList<EventOutcome>> Results, TenantSnapshot Snapshot, ActivityMarks? Activity);

    /// <summary>Applies the group to the meter, on the writer's thread; nothing is written or answered yet.</summary>
    private Metered MeterGroup(IReadOnlyList<EventWork> batch)
    {
        // Server time decides (R10); never let it step back behind the ledger (a clock moved back, or a restart).
        var now = Math.Max(_time.GetUtcNow().UtcTicks, State.Meter.LastTicks);
        var duplicates = DuplicatesIn(batch, now);
        var state = State;
        var position = 0;
        var entries = new List<LedgerEntry>();
        var results = new List<IReadOnlyList<EventOutcome>>(batch.Count);
        var rows = new DecisionRows(state);
        foreach (var work in batch)
        {
            var outcomes = new EventOutcome[work.Events.Count];
            for (var i = 0; i < work.Events.Count; i++)
            {
                var incoming = work.Events[i];
                var at = Math.Max(work.Ticks?[i] ?? now, state.Meter.LastTicks);
                state.Apply(incoming, at, duplicates[position++], rows);
                outcomes[i] = new EventOutcome(at, rows.Outcomes);
                if (!rows.IsDuplicate)
                {
                    // Filed under the meter's calendar, the one its decisions were filed under (the pages' last activity).
                    var period = rows.PeriodName(state.Meter.Calendar.PeriodOf(at));
                    entries.Add(new LedgerEntry(incoming.Id, at, incoming.ClientTime, incoming.User, incoming.Device, incoming.App,
                        incoming.Action.ToWire(), rows.Decisions, rows.Units, period));
                    state.Activity.Mark(period, incoming.User, incoming.App, at);
                }
            }
            results.Add(outcomes);
        }
        return new Metered(entries, results, state.Snapshot(), TakeActivityIfDue(state));
    }

    /// <summary>
    /// The pending last activity when it is due (<see cref="ActivityInterval"/> since it was last recorded), for the
    /// group to record; otherwise null, and the timer records it if no group comes first. Taken now, as the group is
    /// appended after everything it covers; should the append fail, the recovery takes it again from the ledger.
    /// </summary>
    private ActivityMarks? TakeActivityIfDue(TenantState state)
    {
        if (state.Activity.IsEmpty)
        {
            return null;
        }
        var now = _time.GetUtcNow().UtcTicks;
        var due = _activityRecordedTicks + ActivityInterval.Ticks;
        if (now >= due)
        {
            var marks = state.Activity.Marks();
            state.Activity.Clear();
            _activityRecordedTicks = now;
            return marks;
        }
        ArmActivityTimer(TimeSpan.FromTicks(due - now));
        return null;
    }

    /// <summary>Queues a <see cref="RecordActivityWork"/> after <paramref name="delay"/>, unless one is already on its way.</summary>
    private void ArmActivityTimer(TimeSpan delay)
    {
        if (_activityTimerArmed)
        {
            return;
        }
        _activityTimerArmed = true;
        _activityTimer ??= _time.CreateTimer(_ => Enqueue(new RecordActivityWork()), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _activityTimer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// Records the pending last activity on its own (a quiet tenant, a sleep, the stop). A failure keeps it pending and
    /// tries again a little later; nothing else depends on it.
    /// </summary>
    private void RecordActivity()
    {
        if (_broken || Fenced || _state is not { } state || state.Activity.IsEmpty)
        {
            return; // a broken or sleeping writer's rebuild takes the marks again from the ledger; a fenced one's owner does
        }
        try
        {
            _store.Append(_tenant, [], state.Activity.Marks(), Claim);
            state.Activity.Clear();
            _activityRecordedTicks = _time.GetUtcNow().UtcTicks;
        }
        catch (LedgerFencedException e)
        {
            BecomeFenced(e); // no retry: the new owner's replay takes the marks from the ledger
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            ArmActivityTimer(ActivityInterval);
        }
    }

    /// <summary>
    /// Appends a metered group in one transaction, then publishes its figures, hands it to the alerting and answers its
    /// requests; null once durable. Runs on whichever writer thread commits the group, never two of a tenant at once.
    /// </summary>
    private LedgerUnavailableException? Durable(IReadOnlyList<EventWork> batch, Metered metered)
    {
        try
        {
            _store.Append(_tenant, metered.Entries, metered.Activity, Claim);
        }
        catch (Exception e)
        {
            _metrics?.Commit(false);
            return Unavailable("The ledger could not record the events; nothing was applied. Retry with the same ids.", e);
        }
        Snapshot = metered.Snapshot;
        Observer?.Committed(_tenant, metered.Entries); // alerting: hands over and returns at once (Monitoring/AlertEvaluator)
        if (_metrics is { } metrics)
        {
            metrics.Commit(true);
            metrics.Decisions(metered.Results.SelectMany(r => r).SelectMany(o => o.Decisions));
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(metered.Results[i]);
        }
        return null;
    }

    /// <summary>
    /// Which events of <paramref name="batch"/>, in order, are duplicates (R10: of an id accepted at any time in the
    /// tenant's history), decided exactly before any is applied. The meter keeps only hashes of ids, so it names the ids
    /// it cannot rule out (<see cref="Meter.IdsToConfirm"/>: a hash match, or any id once it has forgotten some), and the
    /// ledger's unique index, which holds every id accepted before this batch, answers for them in one query. Ids
    /// repeated inside the batch are found by <see cref="Meter.DuplicatesIn"/>. A hash match alone never makes a
    /// duplicate. The meter first forgets what falls out of its window by the batch's latest instant, so nothing it
    /// remembers now is forgotten while the batch is applied.
    /// </summary>
    private bool[] DuplicatesIn(IReadOnlyList<EventWork> batch, long now)
    {
        var meter = State.Meter;
        if (_idMemory is not null)
        {
            meter.ForgetIds(batch.Select(w => w.Ticks is { Count: > 0 } ticks ? ticks.Max() : now).Append(now).Max());
        }
        var ids = batch.SelectMany(w => w.Events).Select(e => e.Id).ToList();
        var confirm = meter.IdsToConfirm(ids);
        if (confirm.Count == 0)
        {
            return Meter.DuplicatesIn(ids, confirm);
        }
        // The ledger must hold the group in flight before it is asked: its ids are in the meter's hashes already.
        if (FinishInFlight())
        {
            throw new RecoveredException();
        }
        return Meter.DuplicatesIn(ids, _store.KnownEventIds(_tenant, confirm));
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

    /// <summary>Recovers the tenant's state from the ledger (<see cref="TenantState.Recover"/>); until it succeeds the writer is broken.</summary>
    private void Rebuild()
    {
        _broken = true;
        if (Fenced)
        {
            throw FencedFailure(); // the ledger is another writer's now: a replay here would meter for nobody
        }
        try
        {
            _state = TenantState.Recover(_tenant, _store, _time, _configFrom, _idMemory, Claim);
        }
        catch (LedgerFencedException e)
        {
            BecomeFenced(e); // the replay's own terms change was refused
            throw;
        }
        _broken = false;
        _activityRecordedTicks = 0; // what the recovery found pending goes with the next group
        if (!_state.Activity.IsEmpty)
        {
            ArmActivityTimer(ActivityInterval);
        }
        PublishSnapshot();
    }

    private void PublishSnapshot() => Snapshot = State.Snapshot();

    /// <summary>
    /// Marks the writer fenced (once, whichever thread's commit was refused first) and tells its owner. The requests it
    /// fails from then on say so: they are to be retried on the tenant's new owner.
    /// </summary>
    private void BecomeFenced(LedgerFencedException fence)
    {
        if (Interlocked.CompareExchange(ref _fence, fence, null) is null)
        {
            OnFenced?.Invoke(this);
        }
    }

    private LedgerUnavailableException FencedFailure() =>
        new($"Tenant {_tenant}'s meter moved to another owner; nothing was applied. Retry with the same ids.", Volatile.Read(ref _fence)!);

    /// <summary>A failed ledger call as the requests see it: a fence makes the writer fenced and says so; anything else is <paramref name="message"/>.</summary>
    private LedgerUnavailableException Unavailable(string message, Exception e)
    {
        if (e is LedgerFencedException fence)
        {
            BecomeFenced(fence);
        }
        return Fenced ? FencedFailure() : new LedgerUnavailableException(message, e);
    }

    /// <summary>Finishes what is queued, then stops taking work (later calls fail with <see cref="ObjectDisposedException"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Enqueue(new StopWork()))
        {
            _queue.Writer.TryComplete();
        }
        await _stopped.Task.ConfigureAwait(false);
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

    private sealed class SleepWork : Work
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class StopWork : Work;

    private sealed class ObserveWork(string source, IReadOnlyList<ObservedRecordRow> records) : Work
    {
        public string Source { get; } = source;
        public IReadOnlyList<ObservedRecordRow> Records { get; } = records;
        public TaskCompletionSource<ObserveOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The timer's turn to record pending last activity that no group has taken.</summary>
    private sealed class RecordActivityWork : Work;

    /// <summary>
    /// The commit of one metered group, a turn of its own on the writer threads. Whoever comes first runs it: a writer
    /// thread that takes it from the line, or the tenant's next pass, which needs it done before its own group is
    /// written (so one writer thread alone never waits for a turn queued behind itself).
    /// </summary>
    private sealed class GroupCommit(TenantWriter writer, EventWork[] batch, Metered metered) : IWriterTurn
    {
        private readonly ManualResetEventSlim _done = new(false, spinCount: 0);
        private int _claimed;
        private volatile bool _failed;
        private LedgerUnavailableException? _failure;
        // Let go once durable: the writer keeps its last commit until its next pass, which for a tenant that goes quiet
        // may be its sleep, and a whole group's entries would be held that long.
        private EventWork[]? _batch = batch;
        private Metered? _metered = metered;

        /// <summary>The group's requests, kept for the recovery only when the commit failed.</summary>
        public EventWork[] Batch => _batch ?? [];

        /// <summary>The commit failed and its requests wait for the writer's recovery.</summary>
        public bool Failed => _failed;

        public void Run()
        {
            if (Interlocked.Exchange(ref _claimed, 1) != 0)
            {
                return;
            }
            _failure = writer.Durable(_batch!, _metered!);
            _failed = _failure is not null;
            _metered = null;
            if (!_failed)
            {
                _batch = null;
            }
            _done.Set();
            if (_failed)
            {
                // The writer must recover even if no more work arrives (RunPass looks at the flag when it is refused).
                writer.ScheduleIfIdle();
            }
        }

        /// <summary>Runs the commit here if no thread has taken it yet, or waits for the thread that has; its failure, if any.</summary>
        public LedgerUnavailableException? RunOrWait()
        {
            Run();
            _done.Wait();
            _done.Dispose();
            return _failure;
        }
    }

    /// <summary>Metering stopped because the group in flight failed and the meter was recovered: meter the group anew.</summary>
    private sealed class RecoveredException : Exception;
}
