using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tally.Metering;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Native usage reports, read from the ledger (updated at each commit).</summary>
public static class ReportEndpoints
{
    /// <summary>The response header naming the kind of tenant a report describes: <c>metered</c> or <c>observed</c> (R13).</summary>
    public const string TenantKindHeader = "Tally-Tenant-Kind";

    /// <summary>Default and largest page of <c>/usage/users</c> and <c>/usage/apps</c>.</summary>
    public const int DefaultRowLimit = 100;
    public const int MaxRowLimit = 1000;
    public const int MaxSearchLength = 200;

    public static RouteGroupBuilder MapUsage(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/usage").RequireRole(ApiRole.Read, ApiRole.Admin).WithTags("Usage").ProducesProblem(401).ProducesProblem(403);
        // Every report says which kind of tenant it describes (R13): metered by Tally, or observing another license service.
        group.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            http.Response.Headers[TenantKindHeader] = http.RequestServices.GetRequiredService<Tenants>().Writer(http.Tenant()).Kind;
            return await next(context);
        });
        group.MapGet("/summary", Results<Ok<UsageSummary>, ContentHttpResult, ProblemHttpResult> (HttpContext http, string? period, Tenants tenants, IUsageReports store, TimeProvider time) =>
        {
            var read = ReadPeriod(period, CalendarOf(http, tenants), time.GetUtcNow());
            if (!read.IsOk)
            {
                return read.Error;
            }
            var (p, calendar) = read.Value;
            var writer = tenants.Writer(http.Tenant());
            var figures = UsageMonitor.Compute(store, http.Tenant(), writer.Snapshot.Config, p, time.GetUtcNow(), writer.ObservedPool, writer.Calendar);
            var usage = figures.Usage;
            // Only a month the license covers has a pool (UsageMonitor.Compute): no included minutes are claimed for another.
            var (included, limit) = (figures.IncludedMinutes, figures.LimitMinutes);
            return Csv.Report(http, new UsageSummary(
                p.ToString(), calendar.Start(p), calendar.End(p), included, limit, figures.Unlimited, figures.Coverage.ToWire(),
                ConsumedMinutes: usage.Minutes,
                OverageMinutes: included is { } inc ? Math.Max(0, usage.Minutes - inc) : 0,
                RemainingMinutes: limit is { } l ? Math.Max(0, l - usage.Minutes) : null,
                usage.Units, usage.DeniedEvents, usage.Events, UsageMonitor.RunRateView(figures), UsageMonitor.ForecastView(figures)), $"summary-{p}");
        }).WithSummary("Totals of a period with run-rate and forecast (?format=csv for CSV).").ProducesCsv();
        group.MapGet("/timeline", async Task<Results<Ok<UsageTimeline>, ContentHttpResult, ProblemHttpResult>> (HttpContext http, string? period, string? granularity, Tenants tenants, IUsageReports store, TimeProvider time) =>
        {
            var read = ReadPeriod(period, CalendarOf(http, tenants), time.GetUtcNow());
            if (!read.IsOk)
            {
                return read.Error;
            }
            var (p, calendar) = read.Value;
            if (granularity is not (null or "hour" or "day"))
            {
                return Problems.BadRequest("granularity: must be hour or day.");
            }
            var zone = tenants.Writer(http.Tenant()).Snapshot.Config.MeterOptions.TimeZone;
            var buckets = await Timeline.BuildAsync(store, http.Tenant(), calendar, zone, p, granularity ?? "day", time.GetUtcNow(), http.RequestAborted);
            return Csv.Report(http, new UsageTimeline(p.ToString(), granularity ?? "day", zone.Id, buckets), $"timeline-{p}");
        }).WithSummary("Units, minutes, active users and denied events per hour or local day of a period.").ProducesCsv();
        group.MapGet("/users", async Task<Results<Ok<UserUsagePage>, ContentHttpResult, ProblemHttpResult>> (HttpContext http, string? period, string? sort, string? order, string? search, int? limit, int? offset,
            Tenants tenants, IUsageReports store, TimeProvider time) =>
        {
            var read = ReadPeriod(period, CalendarOf(http, tenants), time.GetUtcNow());
            var paging = ReadPaging(sort, order, search, limit, offset, UserSorts, "minutes");
            if (!read.IsOk || !paging.IsOk)
            {
                return read.Error ?? paging.Error!;
            }
            var ((p, calendar), page) = (read.Value, paging.Value);
            var caps = tenants.Writer(http.Tenant()).Snapshot.Caps;
            UserSort? databaseSort = page.Sort switch
            {
                "minutes" => UserSort.Minutes,
                "units" => UserSort.Units,
                "apps" => UserSort.Apps,
                "lastActivity" => UserSort.LastActivity,
                "denied" => UserSort.Denied,
                "user" => UserSort.User,
                _ => null,
            };
            if (databaseSort is { } key)
            {
                var found = await store.UsersPageAsync(http.Tenant(),
                    new PageQuery<UserSort>(p.ToString(), key, page.Order == "desc", page.Search, page.Limit, page.Offset), http.RequestAborted);
                return Csv.Report(http, new UserUsagePage(p.ToString(), [.. found.Rows.Select(u => ToRow(u, caps))], (int)found.Total, page.Limit, page.Offset,
                    page.Sort, page.Order), $"users-{p}");
            }
            // The cap is the plan's (PlanCaps) and the allocation a name the server gives an allotment: neither is a
            // column the database could order by. So these two sorts read every matching user from the rollups (the
            // database still searches; 10,000 users are a few milliseconds) and sort and cut the page here.
            var everyMatch = await store.UsersPageAsync(http.Tenant(),
                new PageQuery<UserSort>(p.ToString(), UserSort.User, false, page.Search, int.MaxValue, 0), http.RequestAborted);
            var rows = everyMatch.Rows.Select(u => ToRow(u, caps));
            var (total, selected) = page.Apply(rows, u => u.User, page.Sort == "cap"
                ? Comparer(rows, (a, b) => Nullable.Compare(a.CapMinutes, b.CapMinutes))
                : Comparer(rows, (a, b) => string.CompareOrdinal(a.Allocation, b.Allocation)));
            return Csv.Report(http, new UserUsagePage(p.ToString(), selected, total, page.Limit, page.Offset, page.Sort, page.Order), $"users-{p}");
        }).WithSummary("Users of a period: sort, order, search, limit, offset, format=csv.").ProducesCsv();
        group.MapGet("/apps", async Task<Results<Ok<AppUsagePage>, ContentHttpResult, ProblemHttpResult>> (HttpContext http, string? period, string? sort, string? order, string? search, int? limit, int? offset,
            Tenants tenants, IUsageReports store, TimeProvider time) =>
        {
            var read = ReadPeriod(period, CalendarOf(http, tenants), time.GetUtcNow());
            var paging = ReadPaging(sort, order, search, limit, offset, AppSorts, "units");
            if (!read.IsOk || !paging.IsOk)
            {
                return read.Error ?? paging.Error!;
            }
            var ((p, calendar), page) = (read.Value, paging.Value);
            var key = page.Sort switch
            {
                "minutes" => AppSort.Minutes,
                "users" => AppSort.Users,
                "lastActivity" => AppSort.LastActivity,
                "app" => AppSort.App,
                _ => AppSort.Units,
            };
            var found = await store.AppsPageAsync(http.Tenant(), new PageQuery<AppSort>(p.ToString(), key, page.Order == "desc", page.Search, page.Limit, page.Offset), http.RequestAborted);
            return Csv.Report(http, new AppUsagePage(p.ToString(), [.. found.Rows.Select(a => new AppRow(a.App, a.Units, a.Minutes, a.Users, At(a.LastActivityTicks)))],
                (int)found.Total, page.Limit, page.Offset, page.Sort, page.Order), $"apps-{p}");
        }).WithSummary("Apps of a period: sort, order, search, limit, offset, format=csv.").ProducesCsv();
        group.MapGet("/waste", WasteReports.AnswerAsync).ProducesProblem(400).ProducesProblem(409)
            .WithSummary("What scheduled reloads charged idle users (R14): totals, users, apps, local hours; quietMinutes, limit, by=user|app|hour for format=csv.")
            .ProducesCsv();
        return group;
    }

    private static readonly string[] UserSorts = ["minutes", "units", "apps", "lastActivity", "cap", "denied", "user", "allocation"];
    private static readonly string[] AppSorts = ["units", "minutes", "users", "lastActivity", "app"];

    private static Comparison<T> Comparer<T>(IEnumerable<T> _, Comparison<T> comparison) => comparison;

    private static UserRow ToRow(UserActivity u, PlanCaps caps)
    {
        var allocation = AllocationNames.FromAllotment(u.Allotment);
        // Caps bind capacity users; a user without units yet is shown the cap they would meet.
        return new UserRow(u.User, u.Units, u.Minutes, u.DeniedEvents, u.Apps, At(u.LastActivityTicks), allocation?.ToWire(),
            allocation is null or Allocation.Capacity ? caps.For(u.User) : null);
    }

    private static DateTimeOffset? At(long? ticks) => ticks is { } t ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>
    /// Validated paging: sort key, order, a case-insensitive substring search on the name, limit and offset. The
    /// database does all of it (<see cref="IUsageReports.UsersPageAsync"/>); <see cref="Apply"/> is the users page's
    /// sorts by cap and allocation, which only the server can compute.
    /// </summary>
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

    private static Outcome<Paging, ProblemHttpResult> ReadPaging(string? sort, string? order, string? search, int? limit, int? offset, string[] sorts, string defaultSort)
    {
        var problem = sort is not null && !sorts.Contains(sort) ? Problems.BadRequest($"sort: must be one of {string.Join(", ", sorts)}.")
            : order is not (null or "asc" or "desc") ? Problems.BadRequest("order: must be asc or desc.")
            : search is { Length: > MaxSearchLength } ? Problems.BadRequest($"search: at most {MaxSearchLength} characters.")
            : limit is < 1 or > MaxRowLimit ? Problems.BadRequest($"limit: must be between 1 and {MaxRowLimit}.")
            : offset is < 0 ? Problems.BadRequest("offset: must not be negative.")
            : null;
        if (problem is not null)
        {
            return problem;
        }
        var key = sort ?? defaultSort;
        // Names sort A→Z by default, figures largest first.
        var defaultOrder = key is "user" or "app" or "allocation" ? "asc" : "desc";
        return new Paging(key, order ?? defaultOrder, string.IsNullOrEmpty(search) ? null : search, limit ?? DefaultRowLimit, offset ?? 0);
    }

    /// <summary>The tenant's calendar: periods are months of its license's time zone.</summary>
    internal static PeriodCalendar CalendarOf(HttpContext http, Tenants tenants) =>
        new(tenants.Writer(http.Tenant()).Snapshot.Config.MeterOptions.TimeZone);

    /// <summary>The <c>period</c> query parameter (absent: the period holding <paramref name="now"/>), or a 400 naming it.</summary>
    internal static Outcome<(Period Period, PeriodCalendar Calendar), ProblemHttpResult> ReadPeriod(string? text, PeriodCalendar calendar, DateTimeOffset now)
    {
        if (text is null)
        {
            return (calendar.PeriodOf(now), calendar);
        }
        return Period.TryParse(text, out var period)
            ? (period, calendar)
            : Problems.BadRequest($"period: '{(text.Length > 20 ? text[..20] : text)}' is not {Period.Expected}.",
                new Dictionary<string, object?> { ["field"] = "period" });
    }
}
