using System.Runtime.InteropServices;

namespace Tally.Metering;

/// <summary>One unit as reported: who, which key, when, what started it and which apps it served.</summary>
public sealed record UnitRecord(int User, MeterKey Key, long StartTicks, long EndTicks, Period Period, MeterAction Trigger, int Minutes, IReadOnlyList<int> Apps);

/// <summary>Totals for one period.</summary>
public sealed record PeriodTally(Period Period, long? IncludedMinutes, long ConsumedMinutes, long OverageMinutes, long Units, long DeniedEvents);

/// <summary>Totals for one user.</summary>
public sealed record UserTally(int User, long Units, long Minutes, long DeniedEvents);

/// <summary>Units per app. In device mode a unit shared by several apps counts once for each of them.</summary>
public sealed record AppTally(int App, long Units);

/// <summary>
/// Folds decisions into the usage a report shows: totals, periods, users, apps and, when asked, every unit.
/// It is a sink, so the meter feeds it directly and nothing is buffered that the report does not need.
/// </summary>
public sealed class UsageTally(MeterOptions options, bool keepUnits = false) : IDecisionSink
{
    private readonly Dictionary<int, long[]> _periods = []; // index -> [units, minutes, denied]
    private readonly Dictionary<int, long[]> _users = [];   // user  -> [units, minutes, denied]
    private readonly Dictionary<int, long> _appUnits = [];
    private readonly Dictionary<long, long> _userPeriodMinutes = []; // (user, period index) -> pool minutes, for monthly caps
    private readonly Dictionary<long, OpenUnit> _openUnits = [];
    private readonly List<UnitRecord> _units = [];

    public long Events { get; private set; }
    public long Units { get; private set; }
    public long Minutes { get; private set; }
    public long DeniedEvents { get; private set; }
    public long DuplicateEvents { get; private set; }

    /// <summary>Counts one input event; call once per event, before or after its decisions.</summary>
    public void CountEvent() => Events++;

    public void Add(in MeterEvent e, in Decision d)
    {
        if (d.StartsUnit)
        {
            StartUnit(d);
            return;
        }
        switch (d.Kind)
        {
            case DecisionKind.Duplicate:
                DuplicateEvents++;
                return;
            case DecisionKind.Denied:
                DeniedEvents++;
                Row(_periods, d.Period.Index)[2]++;
                Row(_users, d.User)[2]++;
                return;
            case DecisionKind.Covered:
                if (_openUnits.TryGetValue(d.Key.Packed, out var open) && open.StartTicks == d.UnitStartTicks)
                {
                    AttachApp(open, d.App);
                }
                return;
        }
    }

    private void StartUnit(in Decision d)
    {
        Units++;
        Minutes += d.Minutes;
        var period = Row(_periods, d.Period.Index);
        period[0]++;
        period[1] += d.Minutes;
        var user = Row(_users, d.User);
        user[0]++;
        user[1] += d.Minutes;
        if (d.Minutes > 0)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_userPeriodMinutes, UserPeriod(d.User, d.Period.Index), out _) += d.Minutes;
        }
        var unit = new OpenUnit(d);
        _openUnits[d.Key.Packed] = unit;
        if (keepUnits)
        {
            _units.Add(unit.Record);
        }
        AttachApp(unit, d.App);
    }

    private void AttachApp(OpenUnit unit, int app)
    {
        if (app == 0 || unit.Apps.Contains(app))
        {
            return;
        }
        unit.Apps.Add(app);
        CollectionsMarshal.GetValueRefOrAddDefault(_appUnits, app, out _)++;
    }

    private static long[] Row(Dictionary<int, long[]> table, int key)
    {
        ref var row = ref CollectionsMarshal.GetValueRefOrAddDefault(table, key, out _);
        return row ??= new long[3];
    }

    public IReadOnlyList<PeriodTally> Periods()
    {
        var included = options.Pool?.IncludedMinutes;
        return [.. _periods.OrderBy(p => p.Key).Select(p => new PeriodTally(
            Period.FromIndex(p.Key), included, p.Value[1],
            included is { } inc ? Math.Max(0, p.Value[1] - inc) : 0, p.Value[0], p.Value[2]))];
    }

    /// <summary>Users by minutes, then units, descending; ties by id for a stable order.</summary>
    public IReadOnlyList<UserTally> Users() =>
        [.. _users.Select(u => new UserTally(u.Key, u.Value[0], u.Value[1], u.Value[2]))
            .OrderByDescending(u => u.Minutes).ThenByDescending(u => u.Units).ThenBy(u => u.User)];

    /// <summary>Pool minutes <paramref name="user"/> drew in <paramref name="period"/> (the meter itself keeps only the current period's).</summary>
    public long UserMinutes(int user, Period period) =>
        _userPeriodMinutes.TryGetValue(UserPeriod(user, period.Index), out var minutes) ? minutes : 0;

    private static long UserPeriod(int user, int periodIndex) => ((long)user << 32) | (uint)periodIndex;

    public IReadOnlyList<AppTally> Apps() =>
        [.. _appUnits.Select(a => new AppTally(a.Key, a.Value)).OrderByDescending(a => a.Units).ThenBy(a => a.App)];

    /// <summary>Every unit in the order granted; empty unless the tally was created with <c>keepUnits</c>.</summary>
    public IReadOnlyList<UnitRecord> UnitRecords => _units;

    /// <summary>The latest unit of a key; its app list is shared with the reported record, so apps attached later show up.</summary>
    private sealed class OpenUnit
    {
        public OpenUnit(in Decision d)
        {
            StartTicks = d.UnitStartTicks;
            Record = new UnitRecord(d.User, d.Key, d.UnitStartTicks, d.UnitEndTicks, d.Period, d.Action, d.Minutes, Apps);
        }

        public long StartTicks { get; }
        public List<int> Apps { get; } = new(2);
        public UnitRecord Record { get; }
    }
}
