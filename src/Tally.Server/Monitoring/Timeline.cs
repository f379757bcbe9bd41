using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Monitoring;

/// <summary>
/// Folds the ledger's per (UTC hour, user) rows into hour buckets (UTC hours) or day buckets (local days of the
/// license's zone, so a DST day is 23 or 25 hours). Buckets run from the period's start up to the bucket holding
/// <c>now</c> (a past period: to its end); empty buckets are listed with zeros so charts need no gap filling.
/// </summary>
public static class Timeline
{
    public static async Task<IReadOnlyList<TimelineBucket>> BuildAsync(IUsageReports store, string tenant, PeriodCalendar calendar, TimeZoneInfo zone, Period period,
        string granularity, DateTimeOffset now, CancellationToken cancellation)
    {
        var start = calendar.Start(period);
        var end = calendar.End(period);
        if (now <= start)
        {
            return [];
        }
        var last = now < end ? now : end;
        var bounds = new List<DateTimeOffset> { start };
        while (bounds[^1] < last)
        {
            var next = granularity == "hour" ? NextHour(bounds[^1]) : NextLocalMidnight(bounds[^1], zone);
            bounds.Add(next < end ? next : end);
        }
        var rows = await store.UserHoursAsync(tenant, start.UtcTicks, bounds[^1].UtcTicks, cancellation);
        var buckets = new List<TimelineBucket>(bounds.Count - 1);
        var i = 0;
        for (var b = 0; b + 1 < bounds.Count; b++)
        {
            long units = 0, minutes = 0, denied = 0;
            var users = new HashSet<string>(StringComparer.Ordinal);
            var to = bounds[b + 1].UtcTicks;
            // Rows are hour-aligned and ordered; every bucket bound is an hour bound in whole-hour zones. In a
            // half-hour zone a local day starts mid-hour, and that hour is filed under the day it starts in.
            for (; i < rows.Count && rows[i].HourStartTicks < to; i++)
            {
                units += rows[i].Units;
                minutes += rows[i].Minutes;
                denied += rows[i].DeniedEvents;
                users.Add(rows[i].User);
            }
            buckets.Add(new TimelineBucket(bounds[b], bounds[b + 1], units, minutes, users.Count, denied));
        }
        return buckets;
    }

    private static DateTimeOffset NextHour(DateTimeOffset t) =>
        new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerHour) + TimeSpan.TicksPerHour, TimeSpan.Zero);

    private static DateTimeOffset NextLocalMidnight(DateTimeOffset t, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(t, zone);
        var nextDay = local.Date.AddDays(1);
        // Midnight may not exist (a DST jump at 00:00): step forward to the first valid instant.
        while (zone.IsInvalidTime(nextDay))
        {
            nextDay = nextDay.AddMinutes(30);
        }
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(nextDay, DateTimeKind.Unspecified), zone), TimeSpan.Zero);
    }
}
