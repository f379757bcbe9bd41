using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// One tenant's state in memory: the meter, the names it interned, the terms in force and the seats they handed out.
/// It is recovered from the ledger (<see cref="Recover"/>), moved on by events and terms changes, and owned by the
/// tenant's writer loop alone (not thread-safe). A failed commit throws it away and recovers a new one, so no field is
/// ever reset by hand.
/// </summary>
internal sealed class TenantState
{
    private readonly string _tenant;
    private readonly ILedgerStore _store;
    private readonly TimeProvider _time;
    private readonly Func<string?, string?, TenantConfig> _configFrom;
    // The writer's claim on the tenant: the terms changes this state records are fenced by it, as the writer's appends.
    private readonly TenantClaim? _claim;
    private readonly SymbolTable _users = new(), _devices = new(), _apps = new();
    private readonly Meter _meter;
    private UserDirectory? _directory;
    private PlanCaps _caps = new(AllocationPlan.Empty);
    private TenantConfig _config;
    private (string? Key, string? Plan) _terms;

    // Auto-assigned seats and when each was handed out; a seat the same user keeps across a terms change keeps its time.
    private readonly Dictionary<string, (Allocation Seat, long Ticks)> _autoSince = new(StringComparer.Ordinal);
    private int _stamped;
    private long _termsTicks;
    private IReadOnlyList<SeatAssignment> _seats = [];
    private bool _seatsStale = true;
    private int _usersAtSeats;
    private bool _anyUnseen;

    private TenantState(string tenant, ILedgerStore store, TimeProvider time, Func<string?, string?, TenantConfig> configFrom, TimeSpan? idMemory,
        (string? Key, string? Plan) initialTerms, TenantClaim? claim)
    {
        _claim = claim;
        _tenant = tenant;
        _store = store;
        _time = time;
        _configFrom = configFrom;
        _terms = initialTerms;
        _config = configFrom(initialTerms.Key, initialTerms.Plan);
        _termsTicks = store.GetTenant(tenant)?.Created.UtcTicks ?? 0;
        _meter = new Meter(_config.MeterOptions, DirectoryFor(_config)) { IdMemory = idMemory };
    }

    public Meter Meter => _meter;

    /// <summary>The last activity of appended events that no append has recorded yet.</summary>
    public PendingActivity Activity { get; } = new();

    /// <summary>Events the ledger holds: the replayed ones and those applied since (a duplicate is not recorded, so not counted).</summary>
    public long Recorded { get; private set; }

    /// <summary>Observed records just appended (R13): ledger events the meter does not apply.</summary>
    public void CountObserved(int count) => Recorded += count;

    /// <summary>Terms changes the ledger holds and this state has put into force.</summary>
    public int TermsChanges { get; private set; }

    /// <summary>
    /// Replays the tenant's ledger, in recorded order with the recorded stamps, into a fresh state, putting each recorded
    /// terms change into force at its recorded position, so the meter reaches exactly the state it had. Terms stored but
    /// never recorded (a crash between storing and recording) take effect at the end, recorded under
    /// <paramref name="claim"/> (<see cref="LedgerFencedException"/> when another writer has claimed the tenant since).
    /// </summary>
    public static TenantState Recover(string tenant, ILedgerStore store, TimeProvider time, Func<string?, string?, TenantConfig> configFrom, TimeSpan? idMemory,
        TenantClaim? claim)
    {
        var changes = store.TermsChanges(tenant);
        // A ledger written before terms were recorded knows only the current terms: they govern from the start.
        var initial = changes.Count == 0 ? StoredTerms(store, tenant) : (null, null);
        var state = new TenantState(tenant, store, time, configFrom, idMemory, initial, claim);
        var discard = new DiscardSink();
        var activityThrough = store.ActivityRecordedThrough(tenant);
        long replayed = 0;
        var next = 0;
        foreach (var stored in store.Events(tenant))
        {
            for (; next < changes.Count && changes[next].AfterEvents <= replayed; next++)
            {
                state.ApplyTerms(changes[next].LicenseKey, changes[next].PlanJson, changes[next].At.UtcTicks);
            }
            if (stored.Seq > activityThrough)
            {
                // Appended, but its last activity was still in the writer's memory: filed as the writer filed it.
                state.Activity.Mark(state._meter.Calendar.PeriodOf(stored.TimeTicks).ToString(), stored.User, stored.App, stored.TimeTicks);
            }
            if (stored.Action == LedgerEntry.ObservedAction)
            {
                // What another license service decided (R13): recorded, never replayed into the meter.
                state.Recorded++;
                replayed++;
                continue;
            }
            if (!MeterActions.TryParse(stored.Action, out _))
            {
                throw new InvalidOperationException($"Ledger event {stored.Seq} has an unknown action '{stored.Action}'.");
            }
            var fields = new EventFields([], stored.User, stored.Device, stored.App, stored.Action, stored.EventId);
            // What the ledger holds is replayed as recorded, even text accepted before the text rule (R12) existed.
            var parsed = EventValidation.Validate(fields, false, state._users, state._devices, state._apps, checkText: false);
            if (!parsed.IsOk)
            {
                throw new InvalidOperationException($"Ledger event {stored.Seq} is invalid: {parsed.Error}");
            }
            // The ledger's unique index makes every recorded id new: a hash collision among them is no duplicate.
            state._meter.ApplyNew(parsed.Value with { TimeTicks = Math.Max(stored.TimeTicks, state._meter.LastTicks) }, discard);
            state.Recorded++;
            state.StampNewSeats(state._meter.LastTicks);
            replayed++;
        }
        for (; next < changes.Count; next++)
        {
            state.ApplyTerms(changes[next].LicenseKey, changes[next].PlanJson, changes[next].At.UtcTicks);
        }
        state.RecordAndApplyStoredTerms(replayed);
        return state;
    }

    /// <summary>
    /// Applies one accepted event at <paramref name="ticks"/> and hands its decisions to <paramref name="rows"/>.
    /// <paramref name="duplicate"/>: the writer found its id in the ledger or earlier in the batch (<see cref="Meter.DuplicatesIn"/>);
    /// otherwise the id is new, whatever the meter's hashes say.
    /// </summary>
    public void Apply(IncomingEvent incoming, long ticks, bool duplicate, DecisionRows rows)
    {
        var e = Parse(incoming, ticks);
        rows.Begin();
        if (duplicate)
        {
            _meter.ApplyDuplicate(e, rows);
        }
        else
        {
            _meter.ApplyNew(e, rows);
        }
        if (!rows.IsDuplicate)
        {
            Recorded++;
        }
        StampNewSeats(ticks);
    }

    /// <summary>Records the stored terms at position <paramref name="afterEvents"/> and applies them, unless they are already in force.</summary>
    public void RecordAndApplyStoredTerms(long afterEvents)
    {
        var (key, plan) = StoredTerms(_store, _tenant);
        if (key == _terms.Key && plan == _terms.Plan)
        {
            return;
        }
        var at = _time.GetUtcNow();
        _store.RecordTermsChange(_tenant, new TermsChange(afterEvents, key, plan, at), _claim);
        ApplyTerms(key, plan, at.UtcTicks);
    }

    public TenantSnapshot Snapshot() => new(_config, _directory?.ProfessionalSeatsUsed ?? 0, _directory?.AnalyzerSeatsUsed ?? 0, Recorded, TermsChanges,
        _meter.Pools().Select(p => (PoolUsage?)p).LastOrDefault(), CurrentSeats(), _caps);

    /// <summary>The names behind a decision's interned ids, for the rows it becomes.</summary>
    public string UserName(int id) => id == 0 ? "" : _users.NameOf(id);

    public string AppName(int id) => id == 0 ? "" : _apps.NameOf(id);

    public string DeviceName(int id) => id == 0 ? "" : _devices.NameOf(id);

    private static (string? Key, string? Plan) StoredTerms(ILedgerStore store, string tenant) => (store.GetLicense(tenant)?.Key, store.GetPlan(tenant));

    private MeterEvent Parse(IncomingEvent incoming, long ticks)
    {
        var fields = new EventFields([], incoming.User, incoming.Device, incoming.App, incoming.Action.ToWire(), incoming.Id);
        // The text rule was applied at the edge; the single writer's loop does not scan every name twice.
        var parsed = EventValidation.Validate(fields, false, _users, _devices, _apps, checkText: false);
        // Validated at the edge and again on replay: reaching this is a bug, not bad input.
        return parsed.IsOk ? parsed.Value with { TimeTicks = ticks } : throw new InvalidOperationException($"An accepted event failed validation: {parsed.Error}");
    }

    private void ApplyTerms(string? key, string? plan, long atTicks)
    {
        TermsChanges++;
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
        var plan = config.Plan.ToPlan().Value ?? AllocationPlan.Empty;
        _caps = new PlanCaps(plan);
        _directory = UserDirectory.Create(plan, config.Seats, _users).Directory;
        return (IUserDirectory?)_directory ?? EveryoneCapacity.Instance;
    }

    private sealed class DiscardSink : IDecisionSink
    {
        public void Add(in MeterEvent e, in Decision decision)
        {
        }
    }
}
