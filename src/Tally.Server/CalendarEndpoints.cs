using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Tally.Metering;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// A tenant's working calendar as the forecast applies it (issue 16): the stored setting resolved in a time zone, kept
/// with what it was resolved from so the writer can tell when the license's zone moved under an <c>auto</c> setting.
/// </summary>
public sealed record ResolvedCalendar(WorkCalendarSetting Setting, string ZoneId, WorkCalendar Calendar)
{
    /// <summary>
    /// The calendar <paramref name="setting"/> gives in <paramref name="zone"/>. A stored country the holiday library no
    /// longer knows (an upgrade dropped it) falls back to the zone's default rather than leaving the tenant without a
    /// forecast; the setting was valid when it was stored, so this is not the admin's error to answer.
    /// </summary>
    public static ResolvedCalendar Of(WorkCalendarSetting setting, TimeZoneInfo zone)
    {
        var made = TenantCalendars.Create(setting, zone);
        return new(setting, zone.Id, made.IsOk ? made.Value : UsageMonitor.DefaultCalendar(zone));
    }
}

/// <summary><c>GET</c> and <c>PUT /api/v1/calendar</c>: the working calendar the tenant's forecast reads history and projects with.</summary>
public static class TenantCalendars
{
    /// <summary>How many closed days ahead the answer lists: enough to check the next weeks at a glance.</summary>
    public const int NextClosedDaysShown = 10;

    /// <summary>How far ahead the listing looks for them: a calendar with none in two years lists what it found.</summary>
    private const int LookAheadDays = 2 * 366;

    /// <summary>The calendar of <paramref name="setting"/> in <paramref name="zone"/>, or WorkCalendar's reason it cannot be made.</summary>
    public static Outcome<WorkCalendar, string> Create(WorkCalendarSetting setting, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(setting);
        return WorkCalendar.Create(WorkCalendar.CountryOf(setting.Holidays, zone), setting.ClosedDays);
    }

    public static RouteGroupBuilder MapCalendar(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/calendar").WithTags("Calendar").ProducesProblem(401).ProducesProblem(403);
        group.MapGet("", (HttpContext http, Tenants tenants, TimeProvider time) => TypedResults.Ok(View(tenants.Writer(http.Tenant()), time.GetUtcNow())))
            .RequireRole(ApiRole.Admin, ApiRole.Read)
            .WithSummary("The tenant's working calendar for the forecast: public holidays (auto, none or a country) and closed days, as resolved, with the next closed days.");
        // Admin only, like the license and the allocation plan: the calendar changes what every forecast and alert says.
        group.MapPut("", Put).RequireRole(ApiRole.Admin).Accepts<WorkCalendarRequest>("application/json").ProducesProblem(400)
            .WithSummary("Replace the tenant's working calendar: {\"holidays\":\"auto|none|FR\",\"closedDays\":[\"2026-12-24\"]}.");
        return group;
    }

    private static async Task<Results<Ok<WorkCalendarView>, ProblemHttpResult>> Put(HttpContext http, Tenants tenants, ITenantCatalog store, TimeProvider time,
        IOptions<TallyOptions> options)
    {
        // 1,000 dates of 13 bytes each fit well inside 64 KiB; nothing larger is a calendar.
        var read = await JsonBody.ReadAsync<WorkCalendarRequest>(http, Math.Min(options.Value.MaxBodyBytes, 64 * 1024));
        if (!read.IsOk)
        {
            return read.Error;
        }
        var parsed = Parse(read.Value);
        if (!parsed.IsOk)
        {
            return parsed.Error;
        }
        var writer = tenants.Writer(http.Tenant());
        // Checked against the zone it will be resolved in: a country the holiday library does not know is the admin's to fix now.
        var made = Create(parsed.Value, writer.Snapshot.Config.MeterOptions.TimeZone);
        if (!made.IsOk)
        {
            return Field("holidays", made.Error + ".");
        }
        // Store and swap under one lock, so two PUTs at once leave the writer with the one the ledger kept.
        await writer.CalendarEdits.WaitAsync(http.RequestAborted);
        try
        {
            store.SetWorkCalendar(http.Tenant(), parsed.Value, time.GetUtcNow());
            writer.CalendarSetting = parsed.Value;
        }
        finally
        {
            writer.CalendarEdits.Release();
        }
        return TypedResults.Ok(View(writer, time.GetUtcNow()));
    }

    /// <summary>The request as a setting (holidays normalised, days sorted and without repeats), or a 400 naming the first bad field.</summary>
    public static Outcome<WorkCalendarSetting, ProblemHttpResult> Parse(WorkCalendarRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var holidays = (body.Holidays ?? WorkCalendarSetting.Auto).Trim();
        holidays = holidays.ToLowerInvariant() is WorkCalendarSetting.Auto or WorkCalendarSetting.NoHolidays ? holidays.ToLowerInvariant() : holidays.ToUpperInvariant();
        if (holidays.Length is 0 or > 40)
        {
            return Field("holidays", "auto, none, or an ISO 3166-1 alpha-2 country code such as FR.");
        }
        var given = body.ClosedDays ?? [];
        if (given.Count > WorkCalendar.MaxClosureDays)
        {
            return Field("closedDays", $"at most {WorkCalendar.MaxClosureDays} closed days, not {given.Count}.");
        }
        var days = new List<DateOnly>(given.Count);
        for (var i = 0; i < given.Count; i++)
        {
            if (given[i] is not { } text || !DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                var shown = given[i] is null ? "null" : $"'{(given[i]!.Length > 40 ? given[i]![..40] : given[i])}'";
                return Field($"closedDays[{i}]", $"{shown} is not a date (YYYY-MM-DD).");
            }
            days.Add(day);
        }
        return new WorkCalendarSetting(holidays, [.. days.Distinct().Order()]);
    }

    /// <summary>The setting, what it resolves to now, and the next closed days from the tenant's local today.</summary>
    public static WorkCalendarView View(TenantWriter writer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var zone = writer.Snapshot.Config.MeterOptions.TimeZone;
        var setting = writer.CalendarSetting;
        var calendar = writer.Calendar;
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime);
        var closures = calendar.ClosureDays.ToHashSet();
        var next = new List<ClosedDayView>(NextClosedDaysShown);
        for (var day = today; next.Count < NextClosedDaysShown && day.DayNumber - today.DayNumber < LookAheadDays; day = day.AddDays(1))
        {
            if (calendar.IsClosed(day))
            {
                next.Add(new ClosedDayView(day, closures.Contains(day) ? "closure" : "holiday"));
            }
        }
        return new WorkCalendarView(setting.Holidays, setting.ClosedDays, zone.Id, calendar.Country, next);
    }

    private static ProblemHttpResult Field(string field, string reason) =>
        Problems.BadRequest($"{field}: {reason}", new Dictionary<string, object?> { ["field"] = field });
}
