namespace Tally.Contract;

/// <summary><c>POST /api/v1/alerts/channels</c>: <c>Kind</c> email (with <c>To</c>) or webhook (with <c>Url</c>, optional <c>Secret</c>).</summary>
public sealed record CreateChannelRequest(string? Name, string? Kind, string? To, string? Url, string? Secret);

/// <summary>
/// <c>POST /api/v1/alerts/rules</c>. <c>Bound</c>, for <c>forecast-run-out</c> only: <c>expected</c> (default: the point
/// forecast's run-out) or <c>pessimistic</c> (the 10th percentile run-out, the forecast range's earliest).
/// </summary>
public sealed record CreateRuleRequest(string? Name, string? Kind, double? Value, IReadOnlyList<string>? Channels, string? Bound = null);

/// <summary>An alert channel as listed: the secret only as a hint.</summary>
public sealed record AlertChannel(string Id, string Name, string Kind, string Target, string? SecretHint, DateTimeOffset Created);

/// <summary>The answer to creating a channel: the only one that carries the whole webhook <c>Secret</c>.</summary>
public sealed record CreatedAlertChannel(string Id, string Name, string Kind, string Target, string? Secret, string? SecretHint, DateTimeOffset Created);

/// <summary>
/// An alert rule: fires on <c>Kind</c> (with <c>Value</c> where the kind takes one) to the named channels. <c>Bound</c>:
/// which run-out a <c>forecast-run-out</c> rule fires on (<c>expected</c> or <c>pessimistic</c>); absent for other kinds.
/// </summary>
public sealed record AlertRule(string Id, string Name, string Kind, double? Value, IReadOnlyList<string> Channels, DateTimeOffset Created, string? Bound = null);

/// <summary>One alert sent or attempted. <c>Subject</c> is the user for per-user rules, absent for tenant-wide ones.</summary>
public sealed record AlertHistoryEntry(
    long Id, string RuleId, string RuleKind, string Period, string? Subject, DateTimeOffset FiredAt, string? ChannelId, string? ChannelKind,
    string Status, string Message, string? Detail);

/// <summary><c>GET /api/v1/alerts/history</c>: newest first; <c>Next</c> is the next page's path, absent on the last.</summary>
public sealed record AlertHistoryPage(IReadOnlyList<AlertHistoryEntry> Alerts, string? Next);

/// <summary>One suggested move: <c>From</c> and <c>To</c> are analyzer, professional or capacity.</summary>
public sealed record SeatRecommendationView(
    string User, string From, string To, long MonthlyMinutes, decimal CapacityCost, decimal SeatCost, decimal MonthlySaving);

/// <summary>
/// <c>GET /api/v1/advice/seats</c>: every recommendation, then the same split by direction. Prices are the caller's, in
/// <c>Currency</c> when named.
/// </summary>
public sealed record SeatAdviceView(
    IReadOnlyList<SeatRecommendationView> Recommendations, IReadOnlyList<string> Periods, string? Currency, decimal SeatPrice, decimal PackPrice,
    long PackMinutes, decimal PricePerMinute, decimal BreakEvenMinutes, IReadOnlyList<SeatRecommendationView> ToAnalyzerSeat,
    IReadOnlyList<SeatRecommendationView> ToCapacity, decimal TotalMonthlySaving);

/// <summary>
/// What a webhook channel receives when an alert fires (<c>Type</c> is <c>tally.alert</c>), signed with the channel's
/// secret in <c>X-Tally-Signature</c>. <c>Subject</c> is the user for per-user rules, absent for tenant-wide ones.
/// </summary>
public sealed record AlertWebhook(
    string Id, string Type, string Tenant, AlertWebhookRule Rule, string Period, string? Subject, DateTimeOffset FiredAt, string Title, string Text,
    AlertFigures Figures);

/// <summary>The rule that fired, as the webhook names it (<c>Bound</c> as in <see cref="AlertRule"/>).</summary>
public sealed record AlertWebhookRule(string Id, string Name, string Kind, double? Value, string? Bound = null);

/// <summary>The period's figures when the alert fired: the summary's run-rate and forecast, and the pool it was judged against.</summary>
public sealed record AlertFigures(long ConsumedMinutes, long? IncludedMinutes, RunRateView? RunRate, ForecastView Forecast);
