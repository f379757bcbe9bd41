using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tally.Metering;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Native usage reports, read from the ledger (updated at each commit).</summary>
public static class ReportEndpoints
{
    /// <summary>Default and largest page of <c>/usage/users</c> and <c>/usage/apps</c>.</summary>
    public const int DefaultRowLimit = 100;
    public const int MaxRowLimit = 1000;
    public const int MaxSearchLength = 200;

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
            var figures = UsageMonitor.Compute(store, http.Tenant(), config, p, time.GetUtcNow());
            var usage = figures.Usage;
            // Only a month the license covers has a pool (UsageMonitor.Compute): no included minutes are claimed for another.
            var covered = figures.Coverage == LicenseCoverage.Covered;
            var included = covered ? config.License?.IncludedMinutes : null;
            var limit = covered && config.MeterOptions.Pool is { } pool && pool.LimitMinutes != long.MaxValue ? pool.LimitMinutes : (long?)null;
            return Csv.Report(http, new
            {
                period = p.ToString(),
                start = calendar.Start(p),
                end = calendar.End(p),
                includedMinutes = included,
                limitMinutes = limit,
                unlimited = covered && limit is null,
                licenseCoverage = figures.Coverage.ToWire(),
                consumedMinutes = usage.Minutes,
                overageMinutes = included is { } inc ? Math.Max(0, usage.Minutes - inc) : 0,
                remainingMinutes = limit is { } l ? Math.Max(0, l - usage.Minutes) : (long?)null,
                units = usage.Units,
                deniedEvents = usage.DeniedEvents,
                events = usage.Events,
                runRate = UsageMonitor.RunRateView(figures),
                forecast = UsageMonitor.ForecastView(figures),
            }, $"summary-{p}");
        }).WithSummary("Totals of a period with run-rate and forecast (?format=csv for CSV).");
        group.MapGet("/timeline", (HttpContext http, string? period, string? granularity, Tenants tenants, ILedgerStore store, TimeProvider time) =>
        {
            if (!TryPeriod(http, period, tenants, time, out var p, out var calendar, out var problem))
            {
                return problem!;
            }
            if (granularity is not (null or "hour" or "day"))
            {
                return Problems.BadRequest("granularity: must be hour or day.");
            }
            var zone = tenants.Writer(http.Tenant()).Snapshot.Config.MeterOptions.TimeZone;
            var buckets = Timeline.Build(store, http.Tenant(), calendar, zone, p, granularity ?? "day", time.GetUtcNow());
            return Csv.Report(http, new { period = p.ToString(), granularity = granularity ?? "day", timeZone = zone.Id, buckets }, $"timeline-{p}");
        }).WithSummary("Units, minutes, active users and denied events per hour or local day of a period.");
        group.MapGet("/users", (HttpContext http, string? period, string? sort, string? order, string? search, int? limit, int? offset,
            Tenants tenants, ILedgerStore store, TimeProvider time) =>
        {
            if (!TryPeriod(http, period, tenants, time, out var p, out var calendar, out var problem)
                || !TryPage(sort, order, search, limit, offset, UserSorts, "minutes", out var page, out problem))
            {
                return problem!;
            }
            var plan = tenants.Writer(http.Tenant()).Snapshot.Config.Plan;
            var rows = store.UserActivity(http.Tenant(), p.ToString(), calendar.Start(p).UtcTicks, calendar.End(p).UtcTicks)
                .Select(u => new UserRow(u.User, u.Units, u.Minutes, u.DeniedEvents, u.Apps, At(u.LastActivityTicks),
                    AllocationOf(u.Allotment), u.Allotment is null or "analyzer_time" ? CapOf(plan, u.User) : null));
            var (total, selected) = page.Apply(rows, u => u.User, page.Sort switch
            {
                "units" => Comparer(rows, (a, b) => a.Units.CompareTo(b.Units)),
                "apps" => Comparer(rows, (a, b) => a.Apps.CompareTo(b.Apps)),
                "lastActivity" => Comparer(rows, (a, b) => Nullable.Compare(a.LastActivity, b.LastActivity)),
                "cap" => Comparer(rows, (a, b) => Nullable.Compare(a.CapMinutes, b.CapMinutes)),
                "denied" => Comparer(rows, (a, b) => a.DeniedEvents.CompareTo(b.DeniedEvents)),
                "user" => Comparer(rows, (a, b) => string.CompareOrdinal(a.User, b.User)),
                "allocation" => Comparer(rows, (a, b) => string.CompareOrdinal(a.Allocation, b.Allocation)),
                _ => Comparer(rows, (a, b) => a.Minutes != b.Minutes ? a.Minutes.CompareTo(b.Minutes) : a.Units.CompareTo(b.Units)),
            });
            return Csv.Report(http, new { period = p.ToString(), users = selected, total, limit = page.Limit, offset = page.Offset, sort = page.Sort, order = page.Order }, $"users-{p}");
        }).WithSummary("Users of a period: sort, order, search, limit, offset, format=csv.");
        group.MapGet("/apps", (HttpContext http, string? period, string? sort, string? order, string? search, int? limit, int? offset,
            Tenants tenants, ILedgerStore store, TimeProvider time) =>
        {
            if (!TryPeriod(http, period, tenants, time, out var p, out var calendar, out var problem)
                || !TryPage(sort, order, search, limit, offset, AppSorts, "units", out var page, out problem))
            {
                return problem!;
            }
            var rows = store.AppActivity(http.Tenant(), p.ToString(), calendar.Start(p).UtcTicks, calendar.End(p).UtcTicks)
                .Select(a => new AppRow(a.App, a.Units, a.Minutes, a.Users, At(a.LastActivityTicks)));
            var (total, selected) = page.Apply(rows, a => a.App, page.Sort switch
            {
                "minutes" => Comparer(rows, (a, b) => a.Minutes.CompareTo(b.Minutes)),
                "users" => Comparer(rows, (a, b) => a.Users.CompareTo(b.Users)),
                "lastActivity" => Comparer(rows, (a, b) => Nullable.Compare(a.LastActivity, b.LastActivity)),
                "app" => Comparer(rows, (a, b) => string.CompareOrdinal(a.App, b.App)),
                _ => Comparer(rows, (a, b) => a.Units.CompareTo(b.Units)),
            });
            return Csv.Report(http, new { period = p.ToString(), apps = selected, total, limit = page.Limit, offset = page.Offset, sort = page.Sort, order = page.Order }, $"apps-{p}");
        }).WithSummary("Apps of a period: sort, order, search, limit, offset, format=csv.");
        return group;
    }

    private static readonly string[] UserSorts = ["minutes", "units", "apps", "lastActivity", "cap", "denied", "user", "allocation"];
    private static readonly string[] AppSorts = ["units", "minutes", "users", "lastActivity", "app"];

    /// <summary>One row of <c>/usage/users</c>. <paramref name="CapMinutes"/> is the user's monthly cap (capacity users; null: none).</summary>
    public sealed record UserRow(string User, long Units, long Minutes, long DeniedEvents, long Apps, DateTimeOffset? LastActivity, string? Allocation, long? CapMinutes);

    public sealed record AppRow(string App, long Units, long Minutes, long Users, DateTimeOffset? LastActivity);

    private static Comparison<T> Comparer<T>(IEnumerable<T> _, Comparison<T> comparison) => comparison;

    private static DateTimeOffset? At(long? ticks) => ticks is { } t ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    private static string? AllocationOf(string? allotment) => allotment switch
    {
        "analyzer_time" => "capacity",
        "analyzer" => "analyzer",
        "professional" => "professional",
        _ => null,
    };

    /// <summary>The smallest of the user's own cap, their groups' caps and the cap for everyone (as the meter applies it, R9).</summary>
    internal static long? CapOf(AllocationPlanDto plan, string user)
    {
        var row = plan.Users.FirstOrDefault(u => u.User == user);
        long? cap = Smallest(row?.CapMinutes, plan.EveryoneCapMinutes);
        foreach (var group in row?.Groups ?? [])
        {
            cap = Smallest(cap, plan.GroupCapMinutes.TryGetValue(group, out var g) ? g : null);
        }
        return cap;
    }

    private static long? Smallest(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    /// <summary>Validated paging: sort key, order, a case-insensitive substring search on the name, limit and offset.</summary>
    private sealed record Paging(string Sort, string Order, string? Search, int Limit, int Offset)
    {
        public (int Total, List<T> Rows) Apply<T>(IEnumerable<T> rows, Func<T, string> name, Comparison<T> compare)
        {
            var matching = Search is null ? rows.ToList() : rows.Where(r => name(r).Contains(Search, StringComparison.OrdinalIgnoreCase)).ToList();
            // Ties always break by name ascending, so pages are stable.
            Comparison<T> ordered = Order == "asc" ? compare : (a, b) => compare(b, a);
            matching.Sort((a, b) =>
            {
                var c = ordered(a, b);
                return c != 0 ? c : string.CompareOrdinal(name(a), name(b));
            });
            return (matching.Count, matching.Skip(Offset).Take(Limit).ToList());
        }
    }

    private static bool TryPage(string? sort, string? order, string? search, int? limit, int? offset, string[] sorts, string defaultSort, out Paging page, out IResult? problem)
    {
        page = null!;
        problem = sort is not null && !sorts.Contains(sort) ? Problems.BadRequest($"sort: must be one of {string.Join(", ", sorts)}.")
            : order is not (null or "asc" or "desc") ? Problems.BadRequest("order: must be asc or desc.")
            : search is { Length: > MaxSearchLength } ? Problems.BadRequest($"search: at most {MaxSearchLength} characters.")
            : limit is < 1 or > MaxRowLimit ? Problems.BadRequest($"limit: must be between 1 and {MaxRowLimit}.")
            : offset is < 0 ? Problems.BadRequest("offset: must not be negative.")
            : null;
        if (problem is not null)
        {
            return false;
        }
        var key = sort ?? defaultSort;
        // Names sort A→Z by default, figures largest first.
        var defaultOrder = key is "user" or "app" or "allocation" ? "asc" : "desc";
        page = new Paging(key, order ?? defaultOrder, string.IsNullOrEmpty(search) ? null : search, limit ?? DefaultRowLimit, offset ?? 0);
        return true;
    }

    internal static bool TryPeriod(HttpContext http, string? text, Tenants tenants, TimeProvider time, out Period period, out PeriodCalendar calendar, out IResult? problem)
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
        problem = Problems.BadRequest($"period: '{(text.Length > 20 ? text[..20] : text)}' is not {Period.Expected}.",
            new Dictionary<string, object?> { ["field"] = "period" });
        return false;
    }
}
