using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// <c>POST /api/v1/offline-reports</c> and <c>GET /api/v1/offline-reports</c> (issue 18): what a client allowed, denied
/// and dropped on its own while Tally was unreachable, and how that compares with what the server decided once the
/// buffered events arrived.
/// </summary>
public static class OfflineReportEndpoints
{
    public const int MaxIdLength = 200;
    public const int MaxClientLength = 200;
    public const int MaxGraceBudgetMinutes = 1_000_000;
    public const int MaxGrants = 10_000;
    public const int MaxGrantMinutes = 10_000;

    /// <summary>
    /// The body a report may have at least, whatever Tally:MaxBodyBytes says: 10,000 grants with long names do not fit
    /// in the 1 MiB an events batch gets, and a report cannot be split the way a batch can.
    /// </summary>
    public const int MinReportBodyBytes = 16 * 1024 * 1024;

    /// <summary>The policies a client may report under: it allowed checks within its grace budget, or denied them all.</summary>
    public static readonly IReadOnlyList<string> Policies = ["fail-open", "fail-closed"];

    /// <summary>No report covers time before this: it keeps the period arithmetic away from the calendar's ends.</summary>
    private static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static IEndpointRouteBuilder MapOfflineReports(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/offline-reports").WithTags("Offline reports").ProducesProblem(401).ProducesProblem(403);
        // The ingest role: the key the client sends its events with.
        group.MapPost("", async Task<Results<Ok<OfflineReportReceipt>, ProblemHttpResult>> (HttpContext http, Tenants tenants, IOfflineReports store,
            TimeProvider time, IOptions<TallyOptions> options) =>
        {
            var read = await JsonBody.ReadAsync<OfflineReport>(http, Math.Max(options.Value.MaxBodyBytes, MinReportBodyBytes));
            if (!read.IsOk)
            {
                return read.Error;
            }
            var writer = tenants.Writer(http.Tenant());
            var now = time.GetUtcNow();
            var valid = Validate(read.Value, http.Tenant(), now, ReportEndpoints.CalendarOf(http, tenants));
            if (!valid.IsOk)
            {
                return valid.Error;
            }
            // As /api/v1/events answers it (R13): another license service decides this tenant's usage, so no client
            // of Tally decides any offline either.
            if (writer.Observing)
            {
                return Problems.Status(StatusCodes.Status409Conflict, "Observing tenant",
                    "This tenant observes a source of usage (see /api/v1/sources): another license service decides its usage, so it takes no offline reports.");
            }
            var added = store.AddOfflineReport(valid.Value);
            return TypedResults.Ok(new OfflineReportReceipt(valid.Value.Id, added.Duplicate, added.Grants, added.GraceMinutes));
        }).RequireRole(ApiRole.Ingest).Accepts<OfflineReport>("application/json").ProducesProblem(400).ProducesProblem(409).ProducesProblem(413)
            .WithSummary("Report what a client decided while Tally was unreachable; a report sent twice is kept once.");
        group.MapGet("", async Task<Results<Ok<OfflineReportsView>, ProblemHttpResult>> (HttpContext http, string? period, Tenants tenants, IOfflineReports store,
            TimeProvider time) =>
        {
            var read = ReportEndpoints.ReadPeriod(period, ReportEndpoints.CalendarOf(http, tenants), time.GetUtcNow());
            if (!read.IsOk)
            {
                return read.Error;
            }
            var p = read.Value.Period.ToString();
            var reports = await store.OfflineReportsAsync(http.Tenant(), p, http.RequestAborted);
            var rows = reports.Select(ToRow).ToList();
            var grants = rows.SelectMany(r => r.Grants).ToList();
            return TypedResults.Ok(new OfflineReportsView(p, rows.Count, grants.Count, grants.Sum(g => (long)g.Minutes), rows.Sum(r => (long)r.DeniedChecks),
                rows.Sum(r => r.DroppedEvents), grants.Count(g => g.ServerDecision == "denied"), rows));
        }).RequireRole(ApiRole.Read, ApiRole.Admin).ProducesProblem(400)
            .WithSummary("A period's offline reports, newest first, with totals and the server's own decision on each granted event.");
        return app;
    }

    private static OfflineReportRow ToRow(StoredOfflineReport stored)
    {
        var r = stored.Report;
        return new OfflineReportRow(r.Id, r.Client, r.Policy, r.GraceBudgetMinutes, r.From, r.To, r.Received, r.GraceMinutes, r.DeniedChecks, r.DroppedEvents,
            [.. stored.Grants.Select(g => new OfflineGrantRow(g.Grant.EventId, g.Grant.User, g.Grant.Device, g.Grant.App, g.Grant.Action, g.Grant.Time,
                g.Grant.Minutes, g.ServerDecision, g.ServerReason))]);
    }

    /// <summary>
    /// The report as the ledger keeps it, or the first thing wrong with it as a 400 naming the field (<c>grants[3].user</c>),
    /// or a 413 beyond <see cref="MaxGrants"/>. Absent <c>grants</c>, <c>deniedChecks</c> and <c>droppedEvents</c> are
    /// none: a report of a quiet outage has nothing to list.
    /// </summary>
    internal static Outcome<OfflineReportRecord, ProblemHttpResult> Validate(OfflineReport report, string tenant, DateTimeOffset now, PeriodCalendar calendar)
    {
        if (report.Grants is { Count: > MaxGrants } many)
        {
            return Problems.Status(StatusCodes.Status413PayloadTooLarge, "Payload too large",
                $"The report has {many.Count} grants; at most {MaxGrants} are accepted per report.");
        }
        var problem = Text("id", report.Id, MaxIdLength) ?? Text("client", report.Client, MaxClientLength)
            ?? (report.Policy is null ? Bad("policy", "is required")
                : !Policies.Contains(report.Policy) ? Bad("policy", $"must be {string.Join(" or ", Policies)}") : null)
            ?? (report.GraceBudgetMinutes is null ? Bad("graceBudgetMinutes", "is required")
                : report.GraceBudgetMinutes is < 0 or > MaxGraceBudgetMinutes ? Bad("graceBudgetMinutes", $"must be between 0 and {MaxGraceBudgetMinutes}") : null)
            ?? Instant("from", report.From, now) ?? Instant("to", report.To, now)
            ?? (report.From > report.To ? Bad("to", "must not be before from") : null)
            ?? (report.DeniedChecks is < 0 ? Bad("deniedChecks", "must not be negative") : null)
            ?? (report.DroppedEvents is < 0 ? Bad("droppedEvents", "must not be negative") : null);
        if (problem is not null)
        {
            return problem;
        }
        var grants = new List<OfflineGrantRecord>(report.Grants?.Count ?? 0);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (report.Grants?.Count ?? 0); i++)
        {
            var field = $"grants[{i}]";
            if (report.Grants![i] is not { } g)
            {
                return Bad(field, "is null; send an object");
            }
            problem = Text($"{field}.eventId", g.EventId, EventValidation.MaxFieldLength) ?? Text($"{field}.user", g.User, EventValidation.MaxFieldLength)
                ?? (g.Device is null ? null : Text($"{field}.device", g.Device, EventValidation.MaxFieldLength, required: false))
                ?? Text($"{field}.app", g.App, EventValidation.MaxFieldLength) ?? Text($"{field}.action", g.Action, EventValidation.MaxFieldLength)
                ?? (!MeterActions.TryParse(g.Action, out _) ? Bad($"{field}.action", $"unknown action '{g.Action}'") : null)
                ?? Instant($"{field}.time", g.Time, now)
                ?? (g.Minutes is null ? Bad($"{field}.minutes", "is required")
                    : g.Minutes is < 0 or > MaxGrantMinutes ? Bad($"{field}.minutes", $"must be between 0 and {MaxGrantMinutes}") : null)
                // One check allowed is one event buffered: the same id twice would count one event's grant twice.
                ?? (!ids.Add(g.EventId!) ? Bad($"{field}.eventId", $"'{g.EventId}' is granted twice in this report") : null);
            if (problem is not null)
            {
                return problem;
            }
            grants.Add(new OfflineGrantRecord(g.EventId!, g.User!, string.IsNullOrWhiteSpace(g.Device) ? null : g.Device, g.App!, g.Action!, g.Time!.Value.ToUniversalTime(), g.Minutes!.Value));
        }
        var from = report.From!.Value.ToUniversalTime();
        // The sum of the grants' minutes is stored as a 32-bit figure: 10,000 grants of 10,000 minutes stay below 2^31.
        return new OfflineReportRecord(tenant, report.Id!, report.Client!, report.Policy!, report.GraceBudgetMinutes!.Value, from,
            report.To!.Value.ToUniversalTime(), now.ToUniversalTime(), calendar.PeriodOf(from).ToString(), report.DeniedChecks ?? 0, report.DroppedEvents ?? 0, grants);
    }

    private static ProblemHttpResult Bad(string field, string reason) =>
        Problems.BadRequest($"{field}: {reason}.", new Dictionary<string, object?> { ["field"] = field, ["reason"] = reason });

    /// <summary>A required (or, absent, accepted) name or id: not blank, at most <paramref name="max"/> characters, no control characters.</summary>
    private static ProblemHttpResult? Text(string field, string? value, int max, bool required = true) =>
        string.IsNullOrWhiteSpace(value) ? (required ? Bad(field, "is required") : null)
        : value.Length > max ? Bad(field, $"is longer than {max} characters")
        : EventValidation.CheckText(value) is { } reason ? Bad(field, reason)
        : null;

    /// <summary>A required instant: offline time is past time, so one beyond the clock skew events are allowed is refused.</summary>
    private static ProblemHttpResult? Instant(string field, DateTimeOffset? value, DateTimeOffset now) =>
        value is not { } at ? Bad(field, "is required")
        : at < Earliest ? Bad(field, $"is before {Earliest.UtcDateTime:yyyy-MM-dd}")
        : at > now + EventEndpoints.MaxClockSkew ? Bad(field, $"is more than {EventEndpoints.MaxClockSkew.TotalMinutes:0} minutes ahead of the server clock ({now.UtcDateTime:O})")
        : null;
}
