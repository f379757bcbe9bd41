using System.Text;
using System.Text.Json;

namespace Tally.Storage;

/// <summary>
/// What a batch of ledger entries writes besides its rows: which decision an event row carries itself, and the batch's
/// contribution to the report rollups (as JSON rows for one upsert per rollup table).
/// </summary>
internal static class LedgerRows
{
    public const long TicksPerHour = 36_000_000_000;

    /// <summary>
    /// What one batch adds to the rollups the reports read (schema v4): per (period, user) units, minutes and denied
    /// decisions; per period pool units and minutes (<c>time</c> units), denied decisions and distinct events; per UTC
    /// hour of unit start, pool minutes. Each figure is exactly what the matching query over the raw rows counts.
    /// </summary>
    public static Rollups Rollup(IReadOnlyList<LedgerEntry> entries)
    {
        var users = new Dictionary<(string Period, string User), UserRollup>();
        var periods = new Dictionary<string, PeriodRollup>(StringComparer.Ordinal);
        var hours = new Dictionary<long, long>();
        var eventPeriods = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            eventPeriods.Clear();
            foreach (var d in entry.Decisions)
            {
                eventPeriods.Add(d.Period);
                if (d.Kind == "denied")
                {
                    var key = (d.Period, d.User);
                    users[key] = users.GetValueOrDefault(key) with { Denied = users.GetValueOrDefault(key).Denied + 1 };
                    var p = periods.GetValueOrDefault(d.Period);
                    periods[d.Period] = p with { Denied = p.Denied + 1 };
                }
            }
            foreach (var period in eventPeriods)
            {
                var p = periods.GetValueOrDefault(period);
                periods[period] = p with { Events = p.Events + 1 };
            }
            foreach (var u in entry.Units)
            {
                var key = (u.Period, u.User);
                var user = users.GetValueOrDefault(key);
                users[key] = user with { Units = user.Units + 1, Minutes = user.Minutes + u.Minutes };
                if (u.LicenseUsage == "time")
                {
                    var p = periods.GetValueOrDefault(u.Period);
                    periods[u.Period] = p with { PoolUnits = p.PoolUnits + 1, PoolMinutes = p.PoolMinutes + u.Minutes };
                    var hour = u.StartTicks / TicksPerHour * TicksPerHour;
                    hours[hour] = hours.GetValueOrDefault(hour) + u.Minutes;
                }
            }
        }
        return new Rollups(
            [.. users.Select(kv => (kv.Key.Period, kv.Key.User, kv.Value))],
            [.. periods.Select(kv => (kv.Key, kv.Value))],
            [.. hours.Select(kv => (kv.Key, kv.Value))]);
    }

    /// <summary>
    /// Pool minutes per hour over [from, to): <paramref name="raw"/> (a query over units) for the partial hours at the
    /// edges, <paramref name="rollup"/> (the hourly rollup) for the whole hours between. Same result as raw alone.
    /// </summary>
    public static IReadOnlyList<HourlyMinutes> HourlyFromRollup(long fromTicks, long toTicks,
        Func<long, long, IReadOnlyList<HourlyMinutes>> raw, Func<long, long, IReadOnlyList<HourlyMinutes>> rollup)
    {
        var firstWhole = fromTicks % TicksPerHour == 0 ? fromTicks : (fromTicks / TicksPerHour + 1) * TicksPerHour;
        var endWhole = toTicks / TicksPerHour * TicksPerHour;
        if (fromTicks < 0 || firstWhole >= endWhole)
        {
            return raw(fromTicks, toTicks);
        }
        var rows = new List<HourlyMinutes>();
        if (fromTicks < firstWhole)
        {
            rows.AddRange(raw(fromTicks, firstWhole));
        }
        rows.AddRange(rollup(firstWhole, endWhole));
        if (endWhole < toTicks)
        {
            rows.AddRange(raw(endWhole, toTicks));
        }
        return rows;
    }

    /// <summary>The rollups as three JSON arrays: [period, user, units, minutes, denied], [period, poolUnits, poolMinutes, denied, events], [hour, poolMinutes].</summary>
    public static (string Users, string Periods, string Hours) Json(Rollups rollups)
    {
        var users = new StringBuilder("[");
        foreach (var (period, user, r) in rollups.Users)
        {
            users.Append(users.Length > 1 ? "," : "").Append('[').Append(JsonSerializer.Serialize(period)).Append(',').Append(JsonSerializer.Serialize(user))
                .Append(',').Append(r.Units).Append(',').Append(r.Minutes).Append(',').Append(r.Denied).Append(']');
        }
        var periods = new StringBuilder("[");
        foreach (var (period, r) in rollups.Periods)
        {
            periods.Append(periods.Length > 1 ? "," : "").Append('[').Append(JsonSerializer.Serialize(period)).Append(',').Append(r.PoolUnits)
                .Append(',').Append(r.PoolMinutes).Append(',').Append(r.Denied).Append(',').Append(r.Events).Append(']');
        }
        var hours = new StringBuilder("[");
        foreach (var (hour, minutes) in rollups.Hours)
        {
            hours.Append(hours.Length > 1 ? "," : "").Append('[').Append(hour).Append(',').Append(minutes).Append(']');
        }
        return (users.Append(']').ToString(), periods.Append(']').ToString(), hours.Append(']').ToString());
    }

    /// <summary>
    /// The decision an event row carries itself (schema v8): the event's only decision, for its own user and app, not a
    /// denial. Every other decision, denials always, goes to the decisions table.
    /// </summary>
    public static StoredDecision? CarriedInRow(LedgerEntry entry) =>
        entry.Decisions is [var d] && d.Kind != "denied" && d.Reason is null && d.RetryAfterTicks == 0 && d.User == entry.User && d.App == entry.App
            ? d
            : null;
}

internal readonly record struct UserRollup(long Units, long Minutes, long Denied);

internal readonly record struct PeriodRollup(long PoolUnits, long PoolMinutes, long Denied, long Events);

internal sealed record Rollups(
    IReadOnlyList<(string Period, string User, UserRollup Totals)> Users,
    IReadOnlyList<(string Period, PeriodRollup Totals)> Periods,
    IReadOnlyList<(long Hour, long PoolMinutes)> Hours);
