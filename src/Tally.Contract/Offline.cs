namespace Tally.Contract;

/// <summary>
/// <c>POST /api/v1/offline-reports</c>: what a client (Tally.Client) decided on its own while Tally was unreachable. The
/// events themselves reach <c>/api/v1/events</c> from the client's buffer and are metered there; this report says which
/// access checks the client allowed under its offline grace budget (and how many minutes of that budget each took), how
/// many it denied, and how many events its full buffer dropped. <c>Id</c> is the client's: a report sent twice is kept once.
/// </summary>
public sealed record OfflineReport(
    string? Id, string? Client, string? Policy, int? GraceBudgetMinutes, DateTimeOffset? From, DateTimeOffset? To,
    IReadOnlyList<OfflineGrant>? Grants, int? DeniedChecks, long? DroppedEvents);

/// <summary>One access check a client allowed offline: the event it buffered (same id) and the grace minutes it took (0 when covered).</summary>
public sealed record OfflineGrant(string? EventId, string? User, string? Device, string? App, string? Action, DateTimeOffset? Time, int? Minutes);

/// <summary>The answer to <c>POST /api/v1/offline-reports</c>: kept, or already kept (<c>Duplicate</c>).</summary>
public sealed record OfflineReportReceipt(string Id, bool Duplicate, int Grants, int GraceMinutes);

/// <summary>
/// <c>GET /api/v1/offline-reports?period=YYYY-MM</c>: the reports whose <c>From</c> falls in the period, newest first,
/// with totals. <c>LaterDenied</c> counts grants whose event the server, once it received it, decided <c>denied</c>:
/// access that the offline policy gave and the pool, caps or permissions would not have.
/// </summary>
public sealed record OfflineReportsView(
    string Period, int Reports, long GrantedChecks, long GraceMinutes, long DeniedChecks, long DroppedEvents, long LaterDenied,
    IReadOnlyList<OfflineReportRow> Items);

/// <summary>One stored report.</summary>
public sealed record OfflineReportRow(
    string Id, string Client, string Policy, int GraceBudgetMinutes, DateTimeOffset From, DateTimeOffset To, DateTimeOffset Received,
    int GraceMinutes, int DeniedChecks, long DroppedEvents, IReadOnlyList<OfflineGrantRow> Grants);

/// <summary>One grant of a stored report, with the server's own decision on the same event id once it was metered (else null).</summary>
public sealed record OfflineGrantRow(
    string EventId, string User, string? Device, string App, string Action, DateTimeOffset Time, int Minutes, string? ServerDecision, string? ServerReason);
