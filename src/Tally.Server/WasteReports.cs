using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Tally.Metering;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// <c>GET /api/v1/usage/waste</c> (R14): what scheduled reloads charged users who were not using the app. The ledger
/// counts the period's reload-started units per user, app and UTC hour (<see cref="IUsageReports.ReloadWasteAsync"/>);
/// this turns the hours into local hours of day, keeps the users and apps with an idle-reload unit, and sets the idle
/// minutes against the period's consumed and included minutes as <c>/usage/summary</c> reports them.
/// </summary>
internal static class WasteReports
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 10000;

    private static readonly string[] CsvRows = ["user", "app", "hour"];

    public static async Task<Results<Ok<WasteReport>, ContentHttpResult, ProblemHttpResult>> AnswerAsync(HttpContext http, string? period, int? quietMinutes,
        int? limit, string? by, Tenants tenants, IUsageReports store, TimeProvider time)
    {
        var writer = tenants.Writer(http.Tenant());
        if (writer.Observing)
        {
            // An observed record says how long a session lasted, not what started it: no unit of it is a reload's.
            return Problems.Status(StatusCodes.Status409Conflict, "Observing tenant",
                "This tenant observes a source of usage (see /api/v1/sources): its source does not record what started a unit, so no unit is known to be a scheduled reload's.");
        }
        var read = ReportEndpoints.ReadPeriod(period, ReportEndpoints.CalendarOf(http, tenants), time.GetUtcNow());
        var problem = !read.IsOk ? read.Error
            : quietMinutes is { } q && IdleReload.CheckQuietMinutes(q) is { } reason ? Invalid("quietMinutes", reason)
            : limit is < 1 or > MaxLimit ? Invalid("limit", $"must be between 1 and {MaxLimit}")
            : by is not null && !CsvRows.Contains(by) ? Invalid("by", $"must be one of {string.Join(", ", CsvRows)}")
            : null;
        if (problem is not null)
        {
            return problem;
        }
        var (p, calendar) = read.Value;
        var quiet = quietMinutes ?? IdleReload.DefaultQuietMinutes;
        var rows = limit ?? DefaultLimit;
        var zone = writer.Snapshot.Config.MeterOptions.TimeZone;
        var waste = await store.ReloadWasteAsync(http.Tenant(), p.ToString(), quiet * TimeSpan.TicksPerMinute, http.RequestAborted);
        var figures = UsageMonitor.Compute(store, http.Tenant(), writer.Snapshot.Config, p, time.GetUtcNow(), writer.ObservedPool, writer.Calendar);
        var report = WasteReportBuilder.Build(p.ToString(), calendar.Start(p), calendar.End(p), zone.Id, quiet, figures.Usage.Minutes, figures.IncludedMinutes,
            waste.Users.Select(u => new WasteUserRow(u.User, u.Figures.IdleUnits, u.Figures.IdleMinutes, u.Figures.ReloadUnits, u.Figures.ReloadMinutes)),
            waste.Apps.Select(a => new WasteAppRow(a.App, a.Figures.IdleUnits, a.Figures.IdleMinutes, a.Figures.ReloadUnits, a.Figures.ReloadMinutes, a.IdleUsers)),
            LocalHours(waste.Hours, zone), rows);
        return Csv.Report(http, report, $"waste-{p}", r => (by ?? "user") switch
        {
            "app" => r.Apps,
            "hour" => r.Hours,
            _ => r.Users,
        });
    }

    private static ProblemHttpResult Invalid(string field, string reason) =>
        Problems.BadRequest($"{field}: {reason}.", new Dictionary<string, object?> { ["field"] = field });


    /// <summary>
    /// Hours 0–23 of the tenant's zone, each summing the UTC hours that start at that local hour on any day of the
    /// period: the zone's offset on that day (DST included) decides, so a reload at 10:00 local is in hour 10 all year.
    /// </summary>
    private static List<WasteHourRow> LocalHours(IReadOnlyList<ReloadWasteHour> utcHours, TimeZoneInfo zone)
    {
        var local = new ReloadUnitFigures[24];
        foreach (var hour in utcHours)
        {
            local[TimeZoneInfo.ConvertTimeFromUtc(new DateTime(hour.HourStartTicks, DateTimeKind.Utc), zone).Hour] += hour.Figures;
        }
        return [.. local.Select((f, h) => new WasteHourRow(h, f.IdleUnits, f.IdleMinutes, f.ReloadUnits, f.ReloadMinutes))];
    }
}
