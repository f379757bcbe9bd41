using System.Runtime.InteropServices;

namespace Tally.Metering;

/// <summary>
/// R14: a unit a scheduled reload started is an <em>idle-reload unit</em> when its user had no engagement of their own on
/// the unit's meter key in the quiet time before the reload, the window (t − Q, t]. An engagement exactly Q before the
/// reload is outside it. The label changes nothing in the pool (R7); it only shows admins what reloads cost idle users.
/// </summary>
public static class IdleReload
{
    public const int DefaultQuietMinutes = 30;
    public const int MaxQuietMinutes = 10080;

    /// <summary>
    /// Whether the unit a scheduled reload started at <paramref name="reloadTicks"/> is idle, given the latest engagement
    /// of its user on its key at or before the reload (<see cref="Meter.LastEngagementTicks"/>; 0: none ever).
    /// </summary>
    public static bool IsIdle(long reloadTicks, long engagedTicks, long quietTicks) =>
        engagedTicks == 0 || engagedTicks <= reloadTicks - quietTicks;

    /// <summary>The first problem with a quiet time in minutes, or null when it is usable.</summary>
    public static string? CheckQuietMinutes(long minutes) =>
        minutes is < 1 or > MaxQuietMinutes ? $"quiet time must be between 1 and {MaxQuietMinutes} minutes" : null;
}

/// <summary>Units and pool minutes of one row of the waste report: all reload-started ones, and the idle among them.</summary>
public readonly record struct ReloadFigures(long ReloadUnits, long ReloadMinutes, long IdleUnits, long IdleMinutes);

/// <summary>One period's reload-started and idle-reload units (R14): totals, per user, per app and per local hour of the reload.</summary>
/// <param name="Period">The period the units belong to (R7: the one containing their start).</param>
/// <param name="Total">All of the period's reload-started units.</param>
/// <param name="Users">Interned user → figures, for users with at least one reload-started unit.</param>
/// <param name="Apps">Interned app (the reloaded one) → figures.</param>
/// <param name="Hours">Index 0–23: the local hour of day (in the tally's zone) the reloads started.</param>
/// <param name="IdleUsersByApp">Interned app → how many distinct users its idle-reload units charged.</param>
public sealed record ReloadWaste(Period Period, ReloadFigures Total, IReadOnlyDictionary<int, ReloadFigures> Users,
    IReadOnlyDictionary<int, ReloadFigures> Apps, IReadOnlyList<ReloadFigures> Hours, IReadOnlyDictionary<int, int> IdleUsersByApp);

/// <summary>
/// Folds a meter's decisions into the idle-reload figures of R14, per period. It reads the key's latest engagement from
/// <paramref name="meter"/> when the reload's decision arrives: a sink is called inside <see cref="Meter.Apply"/>, so that
/// is the engagement before the reload, and the reload itself never counts as one.
/// </summary>
public sealed class ReloadWasteTally(Meter meter, TimeSpan quiet, TimeZoneInfo zone) : IDecisionSink
{
    private readonly long _quietTicks = quiet.Ticks;
    private readonly SortedDictionary<int, PeriodRows> _periods = [];

    public TimeSpan Quiet => quiet;

    public void Add(in MeterEvent e, in Decision d)
    {
        if (d.Action != MeterAction.ScheduledReload || !d.StartsUnit)
        {
            return;
        }
        var idle = IdleReload.IsIdle(d.UnitStartTicks, meter.LastEngagementTicks(d.Key), _quietTicks);
        if (!_periods.TryGetValue(d.Period.Index, out var rows))
        {
            _periods[d.Period.Index] = rows = new PeriodRows();
        }
        var hour = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(d.UnitStartTicks, DateTimeKind.Utc), zone).Hour;
        rows.Total.Add(d.Minutes, idle);
        Row(rows.Users, d.User).Add(d.Minutes, idle);
        Row(rows.Apps, d.App).Add(d.Minutes, idle);
        rows.Hours[hour].Add(d.Minutes, idle);
        if (idle)
        {
            ref var users = ref CollectionsMarshal.GetValueRefOrAddDefault(rows.IdleUsersByApp, d.App, out _);
            (users ??= []).Add(d.User);
        }
    }

    /// <summary>Every period with a reload-started unit, in order.</summary>
    public IReadOnlyList<ReloadWaste> Periods() => [.. _periods.Select(p => Waste(Period.FromIndex(p.Key), p.Value))];

    /// <summary>The figures of <paramref name="period"/>: all zero when no reload started a unit in it.</summary>
    public ReloadWaste Of(Period period) =>
        _periods.TryGetValue(period.Index, out var rows) ? Waste(period, rows)
        : new ReloadWaste(period, default, new Dictionary<int, ReloadFigures>(), new Dictionary<int, ReloadFigures>(), new ReloadFigures[24],
            new Dictionary<int, int>());

    private static ReloadWaste Waste(Period period, PeriodRows rows) =>
        new(period, rows.Total.Figures, rows.Users.ToDictionary(u => u.Key, u => u.Value.Figures), rows.Apps.ToDictionary(a => a.Key, a => a.Value.Figures),
            [.. rows.Hours.Select(h => h.Figures)], rows.IdleUsersByApp.ToDictionary(a => a.Key, a => a.Value.Count));

    private static Counter Row(Dictionary<int, Counter> table, int key)
    {
        ref var row = ref CollectionsMarshal.GetValueRefOrAddDefault(table, key, out _);
        return row ??= new Counter();
    }

    private sealed class PeriodRows
    {
        public Counter Total { get; } = new();
        public Dictionary<int, Counter> Users { get; } = [];
        public Dictionary<int, Counter> Apps { get; } = [];
        public Counter[] Hours { get; } = [.. Enumerable.Range(0, 24).Select(_ => new Counter())];
        public Dictionary<int, HashSet<int>> IdleUsersByApp { get; } = [];
    }

    private sealed class Counter
    {
        private long _units, _minutes, _idleUnits, _idleMinutes;

        public void Add(int minutes, bool idle)
        {
            _units++;
            _minutes += minutes;
            if (idle)
            {
                _idleUnits++;
                _idleMinutes += minutes;
            }
        }

        public ReloadFigures Figures => new(_units, _minutes, _idleUnits, _idleMinutes);
    }
}
