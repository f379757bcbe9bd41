using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// What a live view needs besides the reports: the tenant's ledger version (a poll that finds it unchanged needs
/// nothing else) and the denied decisions of a period per user and reason, as the ledger recorded them.
/// </summary>
public static class UsageFeedEndpoints
{
    public const int DefaultDenialRows = 10;

    public static RouteGroupBuilder MapUsageFeed(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/usage").RequireRole(ApiRole.Read, ApiRole.Admin).WithTags("Usage").ProducesProblem(401).ProducesProblem(403);
        // Both figures only grow, across restarts too: events recorded (granted, denied or neither) and terms changes
        // recorded (a license or plan put into force). Nothing else changes what the reports answer, except time. Read
        // from the writer's snapshot, so the poll an idle dashboard makes every few seconds never touches the ledger.
        group.MapGet("/version", (HttpContext http, Tenants tenants) =>
        {
            var writer = tenants.Writer(http.Tenant());
            var snapshot = writer.Snapshot;
            return TypedResults.Ok(new LedgerVersion(snapshot.EventsRecorded, snapshot.TermsChanges, writer.SourcesStamp));
        })
            .WithSummary("The tenant's ledger version: events applied and terms changes recorded (unchanged: nothing to read again).");
        group.MapGet("/denials", async Task<Results<Ok<DenialsPage>, ProblemHttpResult>> (HttpContext http, string? period, int? limit, Tenants tenants, IUsageReports store,
            TimeProvider time) =>
        {
            var read = ReportEndpoints.ReadPeriod(period, ReportEndpoints.CalendarOf(http, tenants), time.GetUtcNow());
            if (!read.IsOk)
            {
                return read.Error;
            }
            if (limit is < 1 or > ReportEndpoints.MaxRowLimit)
            {
                return Problems.BadRequest($"limit: must be between 1 and {ReportEndpoints.MaxRowLimit}.");
            }
            var p = read.Value.Period;
            var rows = (await store.DenialsAsync(http.Tenant(), p.ToString(), http.RequestAborted))
                .GroupBy(d => d.User, StringComparer.Ordinal)
                .Select(g => new DenialRow(g.Key, g.Sum(d => d.Count),
                    new SortedDictionary<string, long>(g.ToDictionary(d => d.Reason is "" ? "unrecorded" : d.Reason, d => d.Count), StringComparer.Ordinal)))
                .OrderByDescending(r => r.DeniedEvents).ThenBy(r => r.User, StringComparer.Ordinal)
                .ToList();
            return TypedResults.Ok(new DenialsPage(p.ToString(), [.. rows.Take(limit ?? DefaultDenialRows)], rows.Count));
        }).ProducesProblem(400).WithSummary("Denied decisions of a period per user and per recorded reason, most denied first (limit, default 10).");
        return group;
    }
}
