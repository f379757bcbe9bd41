using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Native usage reports and the Qlik-shaped licenses API, read from the ledger (updated at each commit).</summary>
public static partial class ReportEndpoints
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 1000;

    public static RouteGroupBuilder MapUsage(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/usage").RequireRole(ApiRole.Read, ApiRole.Admin).WithTags("Usage").ProducesProblem(401).ProducesProblem(403);
        group.MapGet("/summary", (HttpContext http, string? period, Tenants tenants, ILedgerStore store, TimeProvider time) =>
        {
            if (!TryPeriod(http, period, tenants, time, out var p, out var calendar, out var problem))
            {
                return problem!;
            }
            var config = tenants.Writer(http.Tenant()).Snapshot.Config;
            var usage = store.PeriodUsage(http.Tenant(), p.ToString());
            var included = config.License?.IncludedMinutes;
            var limit = config.MeterOptions.Pool is { } pool && pool.LimitMinutes != long.MaxValue ? pool.LimitMinutes : (long?)null;
            return TypedResults.Ok(new
            {
                period = p.ToString(),
                start = calendar.Start(p),
                end = calendar.End(p),
                includedMinutes = included,
                limitMinutes = limit,
                unlimited = config.License is not null && limit is null,
                consumedMinutes = usage.Minutes,
                overageMinutes = included is { } inc ? Math.Max(0, usage.Minutes - inc) : 0,
                remainingMinutes = limit is { } l ? Math.Max(0, l - usage.Minutes) : (long?)null,
                units = usage.Units,
                deniedEvents = usage.DeniedEvents,
                events = usage.Events,
            });
        });
        group.MapGet("/users", (HttpContext http, string? period, Tenants tenants, ILedgerStore store, TimeProvider time) =>
            TryPeriod(http, period, tenants, time, out var p, out _, out var problem)
                ? TypedResults.Ok(new { period = p.ToString(), users = store.UserUsage(http.Tenant(), p.ToString()) })
                : problem!);
        group.MapGet("/apps", (HttpContext http, string? period, Tenants tenants, ILedgerStore store, TimeProvider time) =>
            TryPeriod(http, period, tenants, time, out var p, out _, out var problem)
                ? TypedResults.Ok(new { period = p.ToString(), apps = store.AppUsage(http.Tenant(), p.ToString()) })
                : problem!);
        return group;
    }

    private static bool TryPeriod(HttpContext http, string? text, Tenants tenants, TimeProvider time, out Period period, out PeriodCalendar calendar, out IResult? problem)
    {
        calendar = new PeriodCalendar(tenants.Writer(http.Tenant()).Snapshot.Config.MeterOptions.TimeZone);
        problem = null;
        if (text is null)
        {
            period = calendar.PeriodOf(time.GetUtcNow());
            return true;
        }
        if (Period.TryParse(text, out period))
        {
            return true;
        }
        problem = Problems.BadRequest($"period: '{(text.Length > 20 ? text[..20] : text)}' is not YYYY-MM.");
        return false;
    }

    public static RouteGroupBuilder MapLicensesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/licenses").RequireRole(ApiRole.Read, ApiRole.Admin).WithTags("Licenses (Qlik-compatible)").ProducesProblem(401).ProducesProblem(403);
        group.MapGet("/overview", (HttpContext http, Tenants tenants, ILedgerStore store, TimeProvider time) =>
        {
            var snapshot = tenants.Writer(http.Tenant()).Snapshot;
            var terms = snapshot.Config.License;
            var calendar = new PeriodCalendar(snapshot.Config.MeterOptions.TimeZone);
            var period = calendar.PeriodOf(time.GetUtcNow());
            var usage = store.PeriodUsage(http.Tenant(), period.ToString());
            var overage = terms?.Overage ?? OverageAllowance.Unlimited;
            return TypedResults.Ok(new
            {
                licenseNumber = terms?.LicenseId,
                product = "Tally analyzer capacity",
                valid = terms is null ? "none" : terms.IsValidAt(time.GetUtcNow()) ? "ok" : "expired",
                startDate = terms?.ValidFrom,
                endDate = terms?.ValidTo,
                period = new { id = period.ToString(), start = calendar.Start(period), end = calendar.End(period) },
                allotments = new object[]
                {
                    new { name = "professional", usageClass = "assigned", units = terms?.ProfessionalSeats ?? 0, unitsUsed = snapshot.ProfessionalSeatsUsed, overage = 0 },
                    new { name = "analyzer", usageClass = "assigned", units = terms?.AnalyzerSeats ?? 0, unitsUsed = snapshot.AnalyzerSeatsUsed, overage = 0 },
                    new
                    {
                        name = "analyzer_time",
                        usageClass = "time",
                        units = terms?.IncludedMinutes ?? 0,
                        unitsUsed = usage.Minutes,
                        overage = overage.Kind switch { OverageKind.Unlimited => -1, OverageKind.Capped => overage.CapMinutes, _ => 0L },
                    },
                },
            });
        });
        group.MapGet("/consumption", (HttpContext http, string? filter, int? limit, long? page, ILedgerStore store) =>
        {
            var size = limit ?? DefaultPageSize;
            if (size is < 1 or > MaxPageSize)
            {
                return Problems.BadRequest($"limit: must be between 1 and {MaxPageSize}.");
            }
            var query = new UnitQuery(page ?? 0, size);
            if (filter is not null && !TryFilter(filter, ref query))
            {
                return Problems.BadRequest("filter: use endTime with gt, ge, lt or le and a quoted ISO-8601 instant, joined by 'and', e.g. endTime ge \"2026-03-01T00:00:00Z\".");
            }
            var result = store.Units(http.Tenant(), query);
            var records = result.Units.Select(u => new
            {
                id = u.Id.ToString(CultureInfo.InvariantCulture),
                appId = u.App,
                userId = u.User,
                sessionId = $"{u.User}/{u.Device}",
                endTime = new DateTimeOffset(u.EndTicks, TimeSpan.Zero),
                duration = XmlConvert.ToString(TimeSpan.FromTicks(u.EndTicks - u.StartTicks)),
                minutesUsed = (u.EndTicks - u.StartTicks) / TimeSpan.TicksPerMinute,
                capacityUsed = u.Minutes,
                licenseUsage = u.LicenseUsage,
                allotmentId = u.Allotment,
            });
            string? next = null;
            if (result.NextAfter is { } after)
            {
                next = $"/api/v1/licenses/consumption?limit={size}&page={after}" + (filter is null ? "" : "&filter=" + Uri.EscapeDataString(filter));
            }
            return TypedResults.Ok(new { data = records, limit = size, links = new { next = next is null ? null : new { href = next } } });
        });
        return group;
    }

    [GeneratedRegex("""^\s*endTime\s+(gt|ge|lt|le)\s+"([^"]+)"\s*$""", RegexOptions.IgnoreCase)]
    private static partial Regex EndTimeClause();

    /// <summary>Parses the small filter language Qlik's licenses API uses for endTime: clauses joined by <c>and</c>.</summary>
    internal static bool TryFilter(string filter, ref UnitQuery query)
    {
        if (filter.Length > 500)
        {
            return false;
        }
        foreach (var clause in filter.Trim().TrimStart('(').TrimEnd(')').Split(" and ", StringSplitOptions.RemoveEmptyEntries))
        {
            var match = EndTimeClause().Match(clause);
            if (!match.Success || EventValidation.ParseTime(match.Groups[2].Value) is not { } instant)
            {
                return false;
            }
            query = match.Groups[1].Value.ToLowerInvariant() switch
            {
                "gt" => query with { EndFromTicks = instant.UtcTicks, EndFromInclusive = false },
                "ge" => query with { EndFromTicks = instant.UtcTicks, EndFromInclusive = true },
                "lt" => query with { EndToTicks = instant.UtcTicks, EndToInclusive = false },
                _ => query with { EndToTicks = instant.UtcTicks, EndToInclusive = true },
            };
        }
        return true;
    }
}
