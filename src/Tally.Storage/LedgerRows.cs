using System.Buffers;
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
    /// hour of unit start, pool minutes. Schema v9 adds, for the pages: per (period, user) the allotment of the latest
    /// unit (units are numbered in entry order, so the last one seen is the latest) and the newest event time; per
    /// (period, app) units, minutes and the newest event time; the (period, user, app) pairs with units. The newest
    /// event times are <paramref name="activity"/>'s (none: the stored ones stay). Each other figure is exactly what the
    /// matching query over the raw rows counts, and each key is one row of the batch's upsert however many events name it.
    /// </summary>
    public static Rollups Rollup(IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity)
    {
        var users = new Dictionary<(string Period, string User), UserRollup>();
        var periods = new Dictionary<string, PeriodRollup>(StringComparer.Ordinal);
        var hours = new Dictionary<long, long>();
        var apps = new Dictionary<(string Period, string App), AppRollup>();
        var userApps = new HashSet<(string Period, string User, string App)>();
        var eventPeriods = new HashSet<string>(StringComparer.Ordinal);
        // Last activity comes from the marks, which the writer may gather over several batches: a user active in
        // every batch but opening no unit is then one row every few seconds, not one per batch.
        foreach (var mark in activity?.Users ?? [])
        {
            users[(mark.Period, mark.Name)] = new UserRollup(0, 0, 0, null, mark.Ticks);
        }
        foreach (var mark in activity?.Apps ?? [])
        {
            apps[(mark.Period, mark.Name)] = new AppRollup(0, 0, mark.Ticks);
        }
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
                users[key] = user with { Units = user.Units + 1, Minutes = user.Minutes + u.Minutes, Allotment = u.Allotment };
                var appKey = (u.Period, u.App);
                var app = apps.GetValueOrDefault(appKey);
                apps[appKey] = app with { Units = app.Units + 1, Minutes = app.Minutes + u.Minutes };
                userApps.Add((u.Period, u.User, u.App));
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
            [.. hours.Select(kv => (kv.Key, kv.Value))],
            [.. apps.Select(kv => (kv.Key.Period, kv.Key.App, kv.Value))],
            [.. userApps]);
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

    /// <summary>
    /// The rollups as JSON arrays of rows (PostgreSQL's append; SQLite binds the same values row by row), in the order
    /// of <c>LedgerStore.RollupStatements</c>: [period, user, units,
    /// minutes, denied, allotment or null, newest event ticks or null], [period, poolUnits, poolMinutes, denied, events],
    /// [hour, poolMinutes], [period, app, units, minutes, newest event ticks or null], [period, user, app].
    /// </summary>
    public static IReadOnlyList<string> Json(Rollups rollups) =>
    [
        Rows(rollups.Users, (w, row) =>
        {
            var (period, user, r) = row;
            w.WriteStringValue(period);
            w.WriteStringValue(user);
            w.WriteNumberValue(r.Units);
            w.WriteNumberValue(r.Minutes);
            w.WriteNumberValue(r.Denied);
            w.WriteStringValue(r.Allotment);
            WriteTicks(w, r.LastTicks);
        }),
        Rows(rollups.Periods, (w, row) =>
        {
            var (period, r) = row;
            w.WriteStringValue(period);
            w.WriteNumberValue(r.PoolUnits);
            w.WriteNumberValue(r.PoolMinutes);
            w.WriteNumberValue(r.Denied);
            w.WriteNumberValue(r.Events);
        }),
        Rows(rollups.Hours, (w, row) =>
        {
            w.WriteNumberValue(row.Hour);
            w.WriteNumberValue(row.PoolMinutes);
        }),
        Rows(rollups.Apps, (w, row) =>
        {
            var (period, app, r) = row;
            w.WriteStringValue(period);
            w.WriteStringValue(app);
            w.WriteNumberValue(r.Units);
            w.WriteNumberValue(r.Minutes);
            WriteTicks(w, r.LastTicks);
        }),
        Rows(rollups.UserApps, (w, row) =>
        {
            w.WriteStringValue(row.Period);
            w.WriteStringValue(row.User);
            w.WriteStringValue(row.App);
        }),
    ];

    /// <summary>A JSON array with one array per row, its elements written by <paramref name="write"/>.</summary>
    private static string Rows<T>(IReadOnlyList<T> rows, Action<Utf8JsonWriter, T> write)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + rows.Count * 64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var row in rows)
            {
                w.WriteStartArray();
                write(w, row);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // No event of its own in the batch: the upsert keeps the stored value (0 is never a server time).
    private static void WriteTicks(Utf8JsonWriter w, long ticks)
    {
        if (ticks == 0)
        {
            w.WriteNullValue();
        }
        else
        {
            w.WriteNumberValue(ticks);
        }
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

internal readonly record struct UserRollup(long Units, long Minutes, long Denied, string? Allotment, long LastTicks);

internal readonly record struct PeriodRollup(long PoolUnits, long PoolMinutes, long Denied, long Events);

internal readonly record struct AppRollup(long Units, long Minutes, long LastTicks);

internal sealed record Rollups(
    IReadOnlyList<(string Period, string User, UserRollup Totals)> Users,
    IReadOnlyList<(string Period, PeriodRollup Totals)> Periods,
    IReadOnlyList<(long Hour, long PoolMinutes)> Hours,
    IReadOnlyList<(string Period, string App, AppRollup Totals)> Apps,
    IReadOnlyList<(string Period, string User, string App)> UserApps);
