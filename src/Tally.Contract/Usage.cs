namespace Tally.Contract;

// Property order is the wire order, and for ?format=csv the column order: the first list property is the CSV's rows.

/// <summary>
/// <c>GET /api/v1/usage/summary</c>: a period's totals. Pool figures (<c>IncludedMinutes</c>, <c>LimitMinutes</c>,
/// <c>RemainingMinutes</c>, <c>RunRate</c>) are absent for a month without a pool (no license, or one that does not reach into it).
/// </summary>
public sealed record UsageSummary(
    string Period, DateTimeOffset Start, DateTimeOffset End, long? IncludedMinutes, long? LimitMinutes, bool Unlimited, string LicenseCoverage,
    long ConsumedMinutes, long OverageMinutes, long? RemainingMinutes, long Units, long DeniedEvents, long Events, RunRateView? RunRate, ForecastView Forecast);

/// <summary>The summary's run-rate: how the period's consumption compares with an even pace through the included minutes.</summary>
public sealed record RunRateView(double ElapsedShare, double ExpectedMinutes, double DeltaMinutes, double? DeltaPercent, string Status);

/// <summary>The summary's forecast. Run-out instants are absent unless already reached or projected inside the period.</summary>
public sealed record ForecastView(
    string Method, DateTimeOffset AsOf, double ProjectedMinutes, double ProjectedDemandMinutes, DateTimeOffset? IncludedRunOut, string IncludedRunOutOutcome,
    DateTimeOffset? LimitRunOut, string LimitRunOutOutcome, string RateSource, DateTimeOffset HistoryStart, int HistoryHours,
    ForecastRangeView? Range = null, ForecastModelView? Model = null);

/// <summary>
/// The forecast's 10th–90th percentile range from the same model. <c>…Earliest</c> is the pessimistic run-out (usage at
/// its 90th percentile reaches the threshold first), <c>…Latest</c> the optimistic one; an instant is null unless its
/// outcome is <c>already-reached</c> or <c>projected</c> (<c>not-within-period</c>: the pool resets first; <c>never</c>: no threshold).
/// </summary>
public sealed record ForecastRangeView(
    double ProjectedDemandLowMinutes, double ProjectedDemandHighMinutes,
    DateTimeOffset? IncludedRunOutEarliest, string IncludedRunOutEarliestOutcome, DateTimeOffset? IncludedRunOutLatest, string IncludedRunOutLatestOutcome,
    DateTimeOffset? LimitRunOutEarliest, string LimitRunOutEarliestOutcome, DateTimeOffset? LimitRunOutLatest, string LimitRunOutLatestOutcome);

/// <summary>
/// What the forecast read from the history: a typical working day's minutes now, the trend in percent of that level per
/// week, the local day a lasting level shift began (null: none found), the days of history read, and the calendar used
/// (the public holidays' country, null for none, and how many of the tenant's own closure days it lists).
/// </summary>
public sealed record ForecastModelView(double WorkingDayMinutes, double TrendPercentPerWeek, DateOnly? LevelShiftDay, int HistoryDays, string? HolidayCountry, int ClosureDays);

/// <summary>
/// One bucket of the timeline, half-open <c>[Start, End)</c>: units (all allocations) and their pool minutes by unit
/// start, distinct users with a unit or a denied event, and denied events by server time.
/// </summary>
public sealed record TimelineBucket(DateTimeOffset Start, DateTimeOffset End, long Units, long Minutes, long ActiveUsers, long DeniedEvents);

/// <summary><c>GET /api/v1/usage/timeline</c>: buckets of an hour (UTC) or a local day of <c>TimeZone</c>.</summary>
public sealed record UsageTimeline(string Period, string Granularity, string TimeZone, IReadOnlyList<TimelineBucket> Buckets);

/// <summary>One row of <c>/usage/users</c>. <c>CapMinutes</c> is the user's monthly cap (capacity users; absent: none).</summary>
public sealed record UserRow(string User, long Units, long Minutes, long DeniedEvents, long Apps, DateTimeOffset? LastActivity, string? Allocation, long? CapMinutes);

/// <summary>One row of <c>/usage/apps</c>.</summary>
public sealed record AppRow(string App, long Units, long Minutes, long Users, DateTimeOffset? LastActivity);

/// <summary><c>GET /api/v1/usage/users</c>: one page of the period's users and how many matched in all.</summary>
public sealed record UserUsagePage(string Period, IReadOnlyList<UserRow> Users, int Total, int Limit, int Offset, string Sort, string Order);

/// <summary><c>GET /api/v1/usage/apps</c>: one page of the period's apps and how many matched in all.</summary>
public sealed record AppUsagePage(string Period, IReadOnlyList<AppRow> Apps, int Total, int Limit, int Offset, string Sort, string Order);

/// <summary>
/// <c>GET /api/v1/usage/version</c>: the tenant's ledger version. Both figures only grow: events recorded (granted,
/// denied or neither; a duplicate is not recorded) and terms changes recorded; while neither moves, no report changes
/// except with time. <c>Sources</c>, for a tenant with sources of observed usage only: a stamp of its sources and
/// their last pulls, which changes when one is added, removed or pulled (its status changed without a record).
/// </summary>
public sealed record LedgerVersion(long Events, int Terms, string? Sources = null);

/// <summary>One user's denied decisions in a period: the total and the count per reason the ledger recorded.</summary>
public sealed record DenialRow(string User, long DeniedEvents, IReadOnlyDictionary<string, long> Reasons);

/// <summary><c>GET /api/v1/usage/denials</c>: the most denied users of a period (<c>Total</c>: how many users were denied).</summary>
public sealed record DenialsPage(string Period, IReadOnlyList<DenialRow> Users, int Total);

/// <summary>
/// <c>GET /api/v1/usage/waste</c>: what scheduled reloads charged idle users in a period (rule R14). A reload-started unit
/// is one a <c>scheduled-reload</c> started (R5); an idle-reload unit is one of those whose user had no engagement of
/// their own on the unit's key in the <c>QuietMinutes</c> before the reload. Shares are of the period's consumed minutes
/// and of its included minutes (absent without a pool). <c>Users</c> and <c>Apps</c> hold the rows with an idle-reload
/// unit, most idle minutes first, at most <c>Limit</c> of <c>UserCount</c> and <c>AppCount</c>; <c>Hours</c> is the
/// local hour of day (0–23, in <c>TimeZone</c>) the reloads started. With <c>?format=csv</c> the rows are those of
/// <c>?by=user</c> (the default), <c>app</c> or <c>hour</c>.
/// </summary>
public sealed record WasteReport(
    string Period, DateTimeOffset Start, DateTimeOffset End, string TimeZone, int QuietMinutes,
    long ReloadUnits, long ReloadMinutes, long IdleReloadUnits, long IdleReloadMinutes,
    long ConsumedMinutes, long? IncludedMinutes, double? ShareOfConsumed, double? ShareOfIncluded,
    IReadOnlyList<WasteUserRow> Users, int UserCount, IReadOnlyList<WasteAppRow> Apps, int AppCount, int Limit,
    IReadOnlyList<WasteHourRow> Hours);

/// <summary>One user's reload-started units in the period and the idle-reload ones among them.</summary>
public sealed record WasteUserRow(string User, long IdleReloadUnits, long IdleReloadMinutes, long ReloadUnits, long ReloadMinutes);

/// <summary>One reloaded app: its reload-started units, the idle-reload ones, and how many users those idle units charged.</summary>
public sealed record WasteAppRow(string App, long IdleReloadUnits, long IdleReloadMinutes, long ReloadUnits, long ReloadMinutes, long IdleUsers);

/// <summary>The reloads that started in one local hour of day, summed over the period's days.</summary>
public sealed record WasteHourRow(int Hour, long IdleReloadUnits, long IdleReloadMinutes, long ReloadUnits, long ReloadMinutes);

/// <summary>
/// Builds a <see cref="WasteReport"/> the one way the server and the CLI both answer it: the users and apps with an
/// idle-reload unit, most idle minutes first then by name (ordinal), at most <c>limit</c> of each with the full counts;
/// the shares of the consumed and included minutes to four decimals, none of nothing. It takes every user and app with a
/// reload-started unit in the period, in any order, and the 24 local hours of day (0 to 23), whose sum is the total:
/// every unit started in one of them.
/// </summary>
public static class WasteReportBuilder
{
    public static WasteReport Build(string period, DateTimeOffset start, DateTimeOffset end, string timeZone, int quietMinutes,
        long consumedMinutes, long? includedMinutes, IEnumerable<WasteUserRow> users, IEnumerable<WasteAppRow> apps,
        IReadOnlyList<WasteHourRow> hours, int limit)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(apps);
        ArgumentNullException.ThrowIfNull(hours);
        var total = new WasteHourRow(-1, hours.Sum(h => h.IdleReloadUnits), hours.Sum(h => h.IdleReloadMinutes),
            hours.Sum(h => h.ReloadUnits), hours.Sum(h => h.ReloadMinutes));
        List<WasteUserRow> idleUsers = [.. users.Where(u => u.IdleReloadUnits > 0)
            .OrderByDescending(u => u.IdleReloadMinutes).ThenBy(u => u.User, StringComparer.Ordinal)];
        List<WasteAppRow> idleApps = [.. apps.Where(a => a.IdleReloadUnits > 0)
            .OrderByDescending(a => a.IdleReloadMinutes).ThenBy(a => a.App, StringComparer.Ordinal)];
        return new WasteReport(period, start, end, timeZone, quietMinutes,
            total.ReloadUnits, total.ReloadMinutes, total.IdleReloadUnits, total.IdleReloadMinutes,
            consumedMinutes, includedMinutes, Share(total.IdleReloadMinutes, consumedMinutes), Share(total.IdleReloadMinutes, includedMinutes),
            [.. idleUsers.Take(limit)], idleUsers.Count, [.. idleApps.Take(limit)], idleApps.Count, limit, hours);
    }

    /// <summary>A part of a whole as a fraction to four decimals (about four minutes of a month); null when the whole is none or 0.</summary>
    public static double? Share(long part, long? whole) =>
        whole is long w and > 0 ? Math.Round((double)part / w, 4, MidpointRounding.AwayFromZero) : null;
}
