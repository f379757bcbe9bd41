using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Tally.Metering;

/// <summary>Receives the decisions of <see cref="Meter.Apply"/>; one per user event, one per touched key for a reload.</summary>
public interface IDecisionSink
{
    void Add(in MeterEvent e, in Decision decision);
}

/// <summary>Consumption of one period's pool so far.</summary>
public readonly record struct PoolUsage(Period Period, long ConsumedMinutes, long Units, long DeniedEvents, long? IncludedMinutes, long? LimitMinutes)
{
    /// <summary>R7: minutes past the included minutes.</summary>
    public long OverageMinutes => IncludedMinutes is { } included ? Math.Max(0, ConsumedMinutes - included) : 0;
}

/// <summary>
/// The metering engine: the rule book (R1–R11) as a state machine over events in time order.
/// One instance meters one tenant and is used by one thread at a time: it is the single writer of that
/// tenant's pools. Time only ever comes from the events, so the same events give the same decisions.
/// </summary>
public sealed class Meter
{
    private MeterOptions _options;
    private IUserDirectory _directory;
    private long _unitTicks;
    private long _timeoutTicks;
    private long _limitMinutes;
    private long _closeIdleTicks;
    private readonly Dictionary<long, Session> _sessions = [];
    private readonly Dictionary<int, UserState> _users = [];
    // App mode only: a key spans devices, so its running unit and last engagement cannot live in one session.
    private readonly Dictionary<long, KeyState> _appKeys = [];
    // app -> its connections in the order they were made: reloads charge in that order, which is a function of
    // the time-ordered events and not of hash-table history.
    private readonly Dictionary<int, AppConnections> _connections = [];
    // Accepted ids as hashes (AcceptedIds), not strings: a match may be another id, so the exact record (the server's
    // ledger and batch) settles matches before an event is called a duplicate (ApplyNew, IdsToConfirm).
    private readonly AcceptedIds _ids = new(window: null);
    // A seed of this meter's own: ids that collide cannot be prepared in advance to crowd one run of the table.
    private readonly long _idSeed = Random.Shared.NextInt64();
    private long _idMemoryTicks;
    private readonly Dictionary<int, PoolState> _pools = [];
    private readonly HashSet<long> _reloadKeys = [];
    private PoolState? _currentPool;
    private long _connectionOrder;

    public Meter(MeterOptions options, IUserDirectory? directory = null)
    {
        Configure(options, directory);
        Calendar = new PeriodCalendar(options.TimeZone);
    }

    public MeterOptions Options => _options;

    public PeriodCalendar Calendar { get; private set; }

    /// <summary>
    /// Puts new terms (a new license, a new allocation plan) into force from the latest applied event on. What has
    /// happened stays: sessions, connections, running units and the minutes already consumed in each period. New
    /// units follow the new terms: the pool's limit, the validity window, the unit length, the counting mode and the
    /// time zone's calendar. Every user seen so far is resolved again with <paramref name="directory"/>, in the order
    /// they first appeared, so seats are handed out as if the new plan had met them in the same order.
    /// A replay that calls this at the same position in the events reaches the same state.
    /// </summary>
    public void ChangeTerms(MeterOptions options, IUserDirectory? directory)
    {
        Configure(options, directory);
        if (!ReferenceEquals(Calendar.TimeZone, options.TimeZone) && Calendar.TimeZone.Id != options.TimeZone.Id)
        {
            Calendar = new PeriodCalendar(options.TimeZone);
            _currentPool = null;
        }
        foreach (var user in _users.Values)
        {
            user.Terms = _directory.Resolve(user.Id);
        }
    }

    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(_options), nameof(_directory))]
    private void Configure(MeterOptions options, IUserDirectory? directory)
    {
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }
        _options = options;
        _directory = directory ?? EveryoneCapacity.Instance;
        _unitTicks = TimeSpan.TicksPerMinute * options.UnitMinutes;
        _timeoutTicks = TimeSpan.TicksPerMinute * options.SessionTimeoutMinutes;
        _limitMinutes = options.Pool?.LimitMinutes ?? long.MaxValue;
        _closeIdleTicks = TimeSpan.TicksPerMinute * (options.CloseIdleAfterMinutes ?? 0);
    }

    /// <summary>
    /// How long an accepted event id is remembered at least, counted back from the latest event; null (the default):
    /// for ever. Ids are forgotten a generation at a time, so one may be remembered up to a sixteenth of the window
    /// longer (<see cref="AcceptedIds"/>). An id inside the window is always reported a duplicate; one forgotten must be
    /// recognised by its owner (the server, which has the ledger) before applying (R10 holds "at any time in the
    /// tenant's history" there, not here). Memory for ids is then bounded by the ids of one window and a sixteenth.
    /// </summary>
    public TimeSpan? IdMemory
    {
        get => _idMemoryTicks == 0 ? null : TimeSpan.FromTicks(_idMemoryTicks);
        init
        {
            _idMemoryTicks = value is { Ticks: > 0 } window ? window.Ticks : 0;
            _ids = new AcceptedIds(value);
        }
    }

    /// <summary>Ids accepted and forgotten since this meter started (none without <see cref="IdMemory"/>).</summary>
    public long ForgottenIds => _ids.Forgotten;

    /// <summary>Ids the meter remembers now.</summary>
    public int RememberedIds => _ids.Count;

    /// <summary>
    /// Whether <paramref name="id"/> may have been accepted and is remembered: true for every id still remembered, and
    /// (rarely) for another whose hash matches one of them, so only an exact record can turn a true into "accepted".
    /// </summary>
    public bool MayHaveAccepted(string id) => _ids.Contains(HashOf(id));

    /// <summary>The hash of ids; replaced in tests to force collisions. Null: XxHash3 of the UTF-16 text, seeded per meter.</summary>
    internal Func<string, ulong>? IdHash { get; init; }

    /// <summary>The instant of the latest event applied; events must not go back before it.</summary>
    public long LastTicks { get; private set; } = long.MinValue;

    /// <summary>Meter keys that have held a unit (live per-key state).</summary>
    public int KeyCount => _options.Mode == CountingMode.Device ? _sessions.Count : _appKeys.Count;

    /// <summary>
    /// Applies one event and reports its decisions to <paramref name="sink"/>. An id whose hash matches a remembered one
    /// is reported a duplicate: exact up to 64-bit hash collisions, which is enough for tests and tools. A caller that
    /// must be exact whatever the hash (the server) settles ids against its record first (<see cref="IdsToConfirm"/>,
    /// <see cref="DuplicatesIn"/>) and calls <see cref="ApplyNew{TSink}"/> or <see cref="ApplyDuplicate{TSink}"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The event is earlier than one already applied: callers order events (R10).</exception>
    public void Apply<TSink>(in MeterEvent e, TSink sink) where TSink : IDecisionSink
    {
        if (e.Id is { } id && _ids.AddIfAbsent(HashOf(id), e.TimeTicks))
        {
            ApplyDuplicate(e, sink);
            return;
        }
        ApplyAccepted(e, sink);
    }

    /// <summary>
    /// Applies an event whose id the caller's exact record confirms was never accepted: the meter remembers its hash
    /// and applies it, even when the hash matches a remembered one (a collision must not deny a genuine event).
    /// </summary>
    /// <exception cref="ArgumentException">The event is earlier than one already applied: callers order events (R10).</exception>
    public void ApplyNew<TSink>(in MeterEvent e, TSink sink) where TSink : IDecisionSink
    {
        if (e.Id is { } id)
        {
            _ids.Add(HashOf(id), e.TimeTicks);
        }
        ApplyAccepted(e, sink);
    }

    /// <summary>
    /// The ids among <paramref name="ids"/> whose acceptance only the exact record can settle: those whose hash matches a
    /// remembered one, and every id once the meter has forgotten any (<see cref="IdMemory"/>). An id left out was
    /// certainly never accepted. Forget first (<see cref="ForgetIds"/>) up to the latest instant to be applied, so
    /// nothing remembered now is forgotten before it is applied.
    /// </summary>
    public HashSet<string> IdsToConfirm(IEnumerable<string?> ids)
    {
        var confirm = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            if (id is not null && (ForgottenIds > 0 || MayHaveAccepted(id)))
            {
                confirm.Add(id);
            }
        }
        return confirm;
    }

    /// <summary>
    /// R10 for events about to be applied in the order of <paramref name="ids"/>, decided exactly: an event is a duplicate
    /// when its id is in <paramref name="acceptedBefore"/> (the exact record's answer for <see cref="IdsToConfirm"/>) or an
    /// earlier event of the list carries it. Events without an id are never duplicates.
    /// </summary>
    public static bool[] DuplicatesIn(IReadOnlyList<string?> ids, IReadOnlySet<string> acceptedBefore)
    {
        var duplicate = new bool[ids.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < ids.Count; i++)
        {
            duplicate[i] = ids[i] is { } id && (acceptedBefore.Contains(id) || !seen.Add(id));
        }
        return duplicate;
    }

    private ulong HashOf(string id) =>
        IdHash is { } hash ? hash(id) : XxHash3.HashToUInt64(MemoryMarshal.AsBytes(id.AsSpan()), _idSeed);

    private void ApplyAccepted<TSink>(in MeterEvent e, TSink sink) where TSink : IDecisionSink
    {
        if (e.TimeTicks < LastTicks)
        {
            throw new ArgumentException($"Events must be applied in time order: {e.Time:O} is before {new DateTime(LastTicks, DateTimeKind.Utc):O}.", nameof(e));
        }
        LastTicks = e.TimeTicks;
        ForgetIds(e.TimeTicks);
        var period = Calendar.PeriodOf(e.TimeTicks);

        if (e.Action == MeterAction.ScheduledReload)
        {
            ApplyReload(e, period, sink);
            return;
        }

        var session = Touch(e.User, e.Device, e.TimeTicks);
        var user = session.User;
        Decision decision;
        switch (e.Action.Kind())
        {
            case ActionKind.Engagement:
            {
                var key = KeyFor(session, e.App);
                ref var state = ref StateFor(session, e.App);
                if (_closeIdleTicks != 0 && state.EngagedTicks != 0 && state.EngagedTicks + _closeIdleTicks <= e.TimeTicks)
                {
                    // The policy closed this key's connections when its quiet time ran out: what reconnects now is new.
                    CloseKey(session, e.App);
                }
                Connect(session, e.App);
                decision = Consume(e, period, user, key, ref state.UnitEndTicks);
                // R14: an engagement of the user's own, whatever its decision, marks the key as in use.
                state.EngagedTicks = e.TimeTicks;
                break;
            }
            case ActionKind.Closing:
                if (e.Action == MeterAction.Logout)
                {
                    DisconnectAll(session);
                }
                else
                {
                    Disconnect(session, e.App);
                }
                decision = Free(e, period);
                break;
            case ActionKind.Restricted:
                decision = user.Terms.Allocation == Allocation.Professional
                    ? Free(e, period)
                    : Deny(e, period, user, MeterKey.None, DenyReason.NotPermitted, 0);
                break;
            default:
                decision = Free(e, period);
                break;
        }
        sink.Add(e, decision);
    }

    /// <summary>Forgets the ids that fall out of the window by <paramref name="latestTicks"/> (no-op without <see cref="IdMemory"/>).</summary>
    public void ForgetIds(long latestTicks)
    {
        if (_idMemoryTicks != 0)
        {
            _ids.ForgetBefore(latestTicks - _idMemoryTicks);
        }
    }

    /// <summary>
    /// Reports <paramref name="e"/> as a duplicate without looking at it further: for replays that found duplicates
    /// in bulk (<see cref="Replay"/>). Nothing in the meter changes.
    /// </summary>
    public void ApplyDuplicate<TSink>(in MeterEvent e, TSink sink) where TSink : IDecisionSink =>
        sink.Add(e, new Decision(DecisionKind.Duplicate, DenyReason.None, e.Action, e.User, e.App, MeterKey.None, Calendar.PeriodOf(e.TimeTicks), 0, 0, 0, 0));

    /// <summary>Convenience for callers that want the decisions as a list (tests, tools). Allocates.</summary>
    public IReadOnlyList<Decision> Apply(in MeterEvent e)
    {
        var sink = new ListSink();
        Apply(e, sink);
        return sink.Decisions;
    }

    /// <summary>The pool of <paramref name="period"/> as it stands.</summary>
    public PoolUsage PoolOf(Period period)
    {
        _pools.TryGetValue(period.Index, out var pool);
        return new PoolUsage(period, pool?.ConsumedMinutes ?? 0, pool?.Units ?? 0, pool?.DeniedEvents ?? 0,
            _options.Pool?.IncludedMinutes, _options.Pool is null ? null : _limitMinutes);
    }

    /// <summary>Every period that has seen an event, in order.</summary>
    public IEnumerable<PoolUsage> Pools() => _pools.Keys.Order().Select(i => PoolOf(Period.FromIndex(i)));

    /// <summary>The terms the meter resolved for <paramref name="user"/>, or null if it has not seen them.</summary>
    public UserTerms? TermsOf(int user) => _users.TryGetValue(user, out var state) ? state.Terms : null;

    /// <summary>Minutes <paramref name="user"/> drew from the pool in <paramref name="period"/>.</summary>
    public long UserMinutes(int user, Period period) =>
        _users.TryGetValue(user, out var state) ? state.MinutesIn(period.Index) : 0;

    private void ApplyReload<TSink>(in MeterEvent e, Period period, TSink sink) where TSink : IDecisionSink
    {
        if (!_connections.TryGetValue(e.App, out var connections) || connections.Live == 0)
        {
            return; // R5: a reload of an app nobody is connected to costs nothing.
        }
        _reloadKeys.Clear();
        var entries = connections.Entries;
        // Index loop: disconnecting an expired session below only marks entries dead, it never reorders them.
        for (var i = 0; i < entries.Count; i++)
        {
            var (session, order) = entries[i];
            if (session.OrderOf(e.App) != order)
            {
                continue; // closed, logged out or expired since; compaction removes it later
            }
            if (Expired(session, e.TimeTicks))
            {
                DisconnectAll(session);
                continue;
            }
            // R5 charges capacity users; a reload never touches a named user's record.
            if (session.User.Terms.Allocation != Allocation.Capacity)
            {
                continue;
            }
            var key = KeyFor(session, e.App);
            ref var state = ref StateFor(session, e.App);
            if (_closeIdleTicks != 0 && state.EngagedTicks + _closeIdleTicks <= e.TimeTicks)
            {
                // What-if policy: the connection closed when its key's quiet time ran out, before this reload.
                Disconnect(session, e.App);
                continue;
            }
            if (!_reloadKeys.Add(key.Packed))
            {
                continue; // several connections on one key cost at most one unit, and get one decision.
            }
            var keyed = e with { User = session.User.Id, Device = session.Device };
            sink.Add(keyed, Consume(keyed, period, session.User, key, ref state.UnitEndTicks));
        }
        connections.CompactIfSparse(e.App);
    }

    private Decision Consume(in MeterEvent e, Period period, UserState user, MeterKey key, ref long unitEnd)
    {
        var t = e.TimeTicks;
        if (t < unitEnd)
        {
            return new Decision(DecisionKind.Covered, DenyReason.None, e.Action, e.User, e.App, key, period, unitEnd - _unitTicks, unitEnd, 0, 0);
        }
        if (_options.Validity is { } validity && !validity.Contains(t))
        {
            return Deny(e, period, user, key, DenyReason.LicenseExpired, 0);
        }
        switch (user.Terms.Allocation)
        {
            case Allocation.None:
                return Deny(e, period, user, key, DenyReason.NotLicensed, 0);
            case Allocation.Professional or Allocation.Analyzer:
                // R9: named users are metered for reporting at 0 pool minutes.
                unitEnd = t + _unitTicks;
                return new Decision(DecisionKind.Free, DenyReason.None, e.Action, e.User, e.App, key, period, t, unitEnd, 0, 0);
        }
        var minutes = _options.UnitMinutes;
        if (user.Terms.CapMinutes is { } cap && user.MinutesIn(period.Index) + minutes > cap)
        {
            return Deny(e, period, user, key, DenyReason.UserCapReached, 0);
        }
        var pool = PoolFor(period);
        if (pool.ConsumedMinutes + minutes > _limitMinutes)
        {
            return Deny(e, period, user, key, DenyReason.PoolExhausted, Calendar.End(period).UtcTicks);
        }
        pool.ConsumedMinutes += minutes;
        pool.Units++;
        user.AddMinutes(period.Index, minutes);
        unitEnd = t + _unitTicks;
        return new Decision(DecisionKind.Charged, DenyReason.None, e.Action, e.User, e.App, key, period, t, unitEnd, 0, minutes);
    }

    private Decision Deny(in MeterEvent e, Period period, UserState user, MeterKey key, DenyReason reason, long retryAfterTicks)
    {
        PoolFor(period).DeniedEvents++;
        user.DeniedEvents++;
        return new Decision(DecisionKind.Denied, reason, e.Action, e.User, e.App, key, period, 0, 0, retryAfterTicks, 0);
    }

    private static Decision Free(in MeterEvent e, Period period) =>
        new(DecisionKind.Free, DenyReason.None, e.Action, e.User, e.App, MeterKey.None, period, 0, 0, 0, 0);

    private PoolState PoolFor(Period period)
    {
        if (_currentPool is { } current && current.PeriodIndex == period.Index)
        {
            return current;
        }
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_pools, period.Index, out _);
        slot ??= new PoolState(period.Index);
        // Only move the cache forward: a late event of an old period (never in order, but cheap to guard) must not
        // evict the live one.
        if (_currentPool is null || period.Index > _currentPool.PeriodIndex)
        {
            _currentPool = slot;
        }
        return slot;
    }

    private MeterKey KeyFor(Session session, int app) =>
        new(session.User.Id, _options.Mode == CountingMode.Device ? session.Device : app);

    /// <summary>The state of the meter key <paramref name="session"/> and <paramref name="app"/> map to (R2). Nothing may be added to the app keys while the reference is held.</summary>
    private ref KeyState StateFor(Session session, int app)
    {
        if (_options.Mode == CountingMode.Device)
        {
            return ref session.Key;
        }
        return ref CollectionsMarshal.GetValueRefOrAddDefault(_appKeys, new MeterKey(session.User.Id, app).Packed, out _);
    }

    /// <summary>
    /// The instant of the latest engagement of the key's own user on <paramref name="key"/> (an engaging action, R4, whatever
    /// its decision; presence and closing do not count), or 0 when it has had none. A scheduled reload's unit on a key
    /// whose latest engagement is a quiet time old or more is an idle-reload unit (R14, <see cref="IdleReload"/>).
    /// </summary>
    public long LastEngagementTicks(MeterKey key)
    {
        if (_options.Mode == CountingMode.Device)
        {
            return _sessions.TryGetValue(key.Packed, out var session) ? session.Key.EngagedTicks : 0;
        }
        return _appKeys.TryGetValue(key.Packed, out var state) ? state.EngagedTicks : 0;
    }

    /// <summary>
    /// Ends every connection of the key <paramref name="session"/> and <paramref name="app"/> map to: in device mode all
    /// of the session's apps, in app mode the user's connections to <paramref name="app"/> on every device.
    /// </summary>
    private void CloseKey(Session session, int app)
    {
        if (_options.Mode == CountingMode.Device)
        {
            DisconnectAll(session);
            return;
        }
        if (!_connections.TryGetValue(app, out var connections))
        {
            return;
        }
        foreach (var (other, order) in connections.Entries)
        {
            if (other.User == session.User && other.OrderOf(app) == order)
            {
                Disconnect(other, app);
            }
        }
    }

    /// <summary>Finds or creates the (user, device) session, ends it first if it had expired (R6), and marks activity.</summary>
    private Session Touch(int user, int device, long t)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_sessions, new MeterKey(user, device).Packed, out var exists);
        if (!exists)
        {
            slot = new Session(UserStateOf(user), device);
        }
        var session = slot!;
        if (exists && Expired(session, t))
        {
            DisconnectAll(session);
        }
        session.LastTicks = t;
        return session;
    }

    private bool Expired(Session session, long t) => session.LastTicks + _timeoutTicks <= t;

    private UserState UserStateOf(int user)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_users, user, out var exists);
        if (!exists)
        {
            slot = new UserState(user, _directory.Resolve(user));
        }
        return slot!;
    }

    private void Connect(Session session, int app)
    {
        if (session.OrderOf(app) >= 0)
        {
            return;
        }
        var order = _connectionOrder++;
        session.AddApp(app, order);
        ref var connections = ref CollectionsMarshal.GetValueRefOrAddDefault(_connections, app, out _);
        connections ??= new AppConnections();
        connections.Add(session, order);
    }

    private void Disconnect(Session session, int app)
    {
        if (session.RemoveApp(app))
        {
            Disconnected(app);
        }
    }

    private void DisconnectAll(Session session)
    {
        for (var i = 0; i < session.AppCount; i++)
        {
            Disconnected(session.AppAt(i));
        }
        session.ClearApps();
    }

    private void Disconnected(int app)
    {
        if (_connections.TryGetValue(app, out var connections))
        {
            connections.Live--;
        }
    }

    /// <summary>
    /// The connections to one app in the order they were made. Disconnecting only decrements <see cref="Live"/>:
    /// an entry is live while its session still holds the app with the same order number, and dead entries are
    /// dropped in bulk when they outnumber the live ones. That keeps connect and disconnect O(1) and reloads
    /// free of sorting.
    /// </summary>
    private sealed class AppConnections
    {
        public List<(Session Session, long Order)> Entries { get; } = [];
        public int Live;

        public void Add(Session session, long order)
        {
            Entries.Add((session, order));
            Live++;
        }

        public void CompactIfSparse(int app)
        {
            if (Entries.Count > 32 && Entries.Count > 2 * Live)
            {
                Entries.RemoveAll(entry => entry.Session.OrderOf(app) != entry.Order);
            }
        }
    }

    /// <summary>Per meter key: the end (exclusive) of its running unit, and its user's latest own engagement on it (R14).</summary>
    private struct KeyState
    {
        public long UnitEndTicks;
        public long EngagedTicks;
    }

    private sealed class ListSink : IDecisionSink
    {
        public List<Decision> Decisions { get; } = [];

        public void Add(in MeterEvent e, in Decision decision) => Decisions.Add(decision);
    }

    private sealed class PoolState(int periodIndex)
    {
        public int PeriodIndex { get; } = periodIndex;
        public long ConsumedMinutes;
        public long Units;
        public long DeniedEvents;
    }

    /// <summary>Per-user state: terms resolved once, and the minutes drawn in the latest period (for caps).</summary>
    private sealed class UserState(int id, UserTerms terms)
    {
        private int _periodIndex = -1;
        private long _periodMinutes;

        public int Id { get; } = id;
        public UserTerms Terms { get; set; } = terms;
        public long DeniedEvents;

        public long MinutesIn(int periodIndex) => periodIndex == _periodIndex ? _periodMinutes : 0;

        public void AddMinutes(int periodIndex, long minutes)
        {
            if (periodIndex != _periodIndex)
            {
                _periodIndex = periodIndex;
                _periodMinutes = 0;
            }
            _periodMinutes += minutes;
        }
    }

    /// <summary>
    /// A (user, device) session (R6). In device mode it is also the meter key, so the running unit lives here and
    /// a covered event costs one dictionary lookup. Connected apps are a small array: a device rarely has more than
    /// a handful open.
    /// </summary>
    private sealed class Session(UserState user, int device)
    {
        public readonly UserState User = user;
        public readonly int Device = device;
        public long LastTicks;
        public KeyState Key;
        // Most sessions hold one app: it lives inline, and only further apps take an array.
        private Connection _first;
        private Connection[]? _more;

        public int AppCount { get; private set; }

        public int AppAt(int index) => index == 0 ? _first.App : _more![index - 1].App;

        /// <summary>The order number of the connection to <paramref name="app"/>, or -1 when not connected.</summary>
        public long OrderOf(int app)
        {
            if (AppCount == 0)
            {
                return -1;
            }
            if (_first.App == app)
            {
                return _first.Order;
            }
            for (var i = 0; i < AppCount - 1; i++)
            {
                if (_more![i].App == app)
                {
                    return _more[i].Order;
                }
            }
            return -1;
        }

        public void AddApp(int app, long order)
        {
            var connection = new Connection(app, order);
            if (AppCount == 0)
            {
                _first = connection;
            }
            else
            {
                if (_more is null || AppCount - 1 == _more.Length)
                {
                    Array.Resize(ref _more, Math.Max(2, (_more?.Length ?? 0) * 2));
                }
                _more[AppCount - 1] = connection;
            }
            AppCount++;
        }

        public bool RemoveApp(int app)
        {
            for (var i = 0; i < AppCount; i++)
            {
                if (AppAt(i) == app)
                {
                    // Move the last connection into the freed place.
                    var last = AppCount - 1;
                    var moved = last == 0 ? _first : _more![last - 1];
                    if (i == 0)
                    {
                        _first = moved;
                    }
                    else
                    {
                        _more![i - 1] = moved;
                    }
                    AppCount--;
                    return true;
                }
            }
            return false;
        }

        public void ClearApps() => AppCount = 0;

        private readonly record struct Connection(int App, long Order);
    }
}
