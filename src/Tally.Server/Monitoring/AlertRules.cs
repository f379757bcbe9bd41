using System.Globalization;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Monitoring;

/// <summary>An alert a rule fires: about the period as a whole (<c>Subject</c> empty) or about one user.</summary>
public sealed record FiredAlert(string Subject, string Title, string Text);

/// <summary>
/// What a period looks like when its rules are decided: its figures, the included minutes (null without a pool),
/// whether an event was just denied <c>pool-exhausted</c>, the period minutes of each user just charged, and the
/// minutes scheduled reloads charged idle users at the default quiet time (R14; null when no rule reads them).
/// </summary>
public sealed record PeriodFacts(MonitorFigures Figures, bool LockedOut, IReadOnlyList<(string User, long Minutes)> ChargedUsers, long? IdleReloadMinutes = null);

/// <summary>
/// A source of observed usage as a pull left it (R13): whether it is stopped (a refused credential), when it was added,
/// its last success, and the last failure's kind and message.
/// </summary>
public sealed record SourceFacts(string Id, bool Stopped, DateTimeOffset Created, DateTimeOffset? LastSuccess, string? Failure, string? Error);

/// <summary>
/// Decides which alerts a rule fires, from facts alone: no ledger, no clock, no sending. The evaluator gathers the facts
/// and does the I/O (claiming, recording, delivering); each rule's condition and wording live here, once.
/// </summary>
public static class AlertRules
{
    public static IReadOnlyList<FiredAlert> Decide(AlertRuleRecord rule, PeriodFacts facts)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(facts);
        var figures = facts.Figures;
        var consumed = figures.Usage.Minutes;
        var included = figures.IncludedMinutes;
        var value = rule.Value ?? 0;
        switch (rule.Kind)
        {
            case AlertKinds.ThresholdPercent when included is > 0 && consumed >= included.Value * value / 100:
                return [new("", Inv($"{Fmt(value)} % of the included minutes used"),
                    Inv($"{consumed:N0} of {included:N0} included minutes are used ({Fmt(100.0 * consumed / included.Value)} %)."))];
            case AlertKinds.ThresholdMinutes when consumed >= value:
                return [new("", Inv($"{Fmt(value)} minutes used"), Inv($"{consumed:N0} minutes are used this period (threshold {Fmt(value)})."))];
            case AlertKinds.AboveRunRate when figures.RunRate is { Status: RunRateStatus.Ahead, DeltaPercent: { } delta } rr && delta >= value:
                return [new("", Inv($"consumption {Fmt(delta)} % above the run-rate"),
                    Inv($"{consumed:N0} minutes used where {rr.ExpectedMinutes:N0} were expected by now ({Fmt(rr.ElapsedShare * 100)} % of the period): {Fmt(delta)} % above the run-rate (margin {Fmt(value)} %)."))];
            case AlertKinds.ForecastRunOut when rule.Bound == AlertKinds.BoundPessimistic:
                return figures.Forecast.Band.IncludedEarliest is { Outcome: RunOutOutcome.Projected or RunOutOutcome.AlreadyReached, At: { } earliest }
                    ? [new("", Inv($"included minutes may run out {earliest:yyyy-MM-dd HH:mm} UTC (pessimistic forecast)"),
                        Inv($"At the 10th percentile of the forecast the included {included:N0} minutes run out at {earliest:yyyy-MM-dd HH:mm} UTC, before the period ends at {figures.Window.End:yyyy-MM-dd HH:mm} UTC: the run-out lies between {earliest:yyyy-MM-dd HH:mm} and {Instant(figures.Forecast.Band.IncludedLatest)}, expected {Instant(figures.Forecast.IncludedRunOut)}. Projected for the period: {figures.Forecast.ProjectedDemandMinutes:N0} minutes (10–90 %: {figures.Forecast.Band.LowDemandMinutes:N0}–{figures.Forecast.Band.HighDemandMinutes:N0})."))]
                    : [];
            case AlertKinds.ForecastRunOut when figures.Forecast.IncludedRunOut is { Outcome: RunOutOutcome.Projected or RunOutOutcome.AlreadyReached, At: { } at }:
                return [new("", Inv($"included minutes forecast to run out {at:yyyy-MM-dd HH:mm} UTC"),
                    Inv($"At the usual weekly pattern the included {included:N0} minutes run out at {at:yyyy-MM-dd HH:mm} UTC, before the period ends at {figures.Window.End:yyyy-MM-dd HH:mm} UTC. Projected for the period: {figures.Forecast.ProjectedDemandMinutes:N0} minutes."))];
            case AlertKinds.OverageStarted when included is { } inc && consumed > inc:
                return [new("", "overage started", Inv($"{consumed:N0} minutes are used, past the {inc:N0} included minutes: {consumed - inc:N0} overage minutes so far."))];
            case AlertKinds.Lockout when facts.LockedOut:
                return [new("", "the pool is exhausted: users are locked out",
                    Inv($"An event was denied 'pool-exhausted': {consumed:N0} minutes are used and the pool cannot cover another unit until the next period starts at {figures.Window.End:yyyy-MM-dd HH:mm} UTC."))];
            case AlertKinds.IdleReloadMinutes when facts.IdleReloadMinutes is { } idle && idle >= value:
                return [new("", Inv($"{idle:N0} minutes charged by scheduled reloads to idle users"),
                    Inv($"Scheduled reloads charged {idle:N0} minutes this period to users who had not engaged for {IdleReload.DefaultQuietMinutes} minutes (threshold {Fmt(value)}). {IdleAdvice}"))];
            case AlertKinds.IdleReloadPercent when facts.IdleReloadMinutes is { } idle && included is > 0 && idle >= included.Value * value / 100:
                return [new("", Inv($"{Fmt(100.0 * idle / included.Value)} % of the included minutes charged by scheduled reloads to idle users"),
                    Inv($"Scheduled reloads charged {idle:N0} minutes this period, {Fmt(100.0 * idle / included.Value)} % of the {included:N0} included minutes, to users who had not engaged for {IdleReload.DefaultQuietMinutes} minutes (threshold {Fmt(value)} %). {IdleAdvice}"))];
            case AlertKinds.UserMinutes:
                return [.. facts.ChargedUsers
                    .Where(u => u.Minutes >= value)
                    .OrderBy(u => u.User, StringComparer.Ordinal)
                    .Select(u => new FiredAlert(u.User, Inv($"user {u.User} passed {Fmt(value)} minutes"),
                        Inv($"User {u.User} has used {u.Minutes:N0} minutes this period (threshold {Fmt(value)}).")))];
            default:
                return [];
        }
    }

    /// <summary>
    /// A <c>source-failing</c> rule: fires for a source stopped by a refused credential at once, and for one without a
    /// successful pull for the rule's hours (counted from when it was added, if it never had one). The subject is the
    /// source and the start of its outage (its last success), so each outage fires once.
    /// </summary>
    public static IReadOnlyList<FiredAlert> DecideSource(AlertRuleRecord rule, SourceFacts source, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(source);
        if (rule.Kind != AlertKinds.SourceFailing)
        {
            return [];
        }
        var why = source.Error is { } error ? $" Last error ({source.Failure}): {error}" : "";
        var since = source.LastSuccess ?? source.Created;
        // One alert per outage: the subject names the source and its last success, so a source that recovers and fails
        // again is a new subject (a new claim), while one that stays down fires once (and again in a new period).
        var outage = Inv($"{source.Id} since {since:yyyy-MM-ddTHH:mm:ss}Z");
        if (source.Stopped)
        {
            return [new(outage + " (stopped)", $"source {source.Id} stopped", Inv($"The source {source.Id} stopped: its credential was refused, so nothing more is imported until an admin gives it again with a working one (PUT /api/v1/sources/{source.Id}).{why}"))];
        }
        var hours = (now - since).TotalHours;
        return hours >= (rule.Value ?? 0)
            ? [new(outage, $"source {source.Id} has not been read for {Fmt(hours)} hours",
                Inv($"No pull of the source {source.Id} has succeeded since {since:yyyy-MM-dd HH:mm} UTC ({Fmt(hours)} hours; the rule allows {Fmt(rule.Value ?? 0)}): its usage is missing from the reports until it is read again.{why}"))]
            : [];
    }

    private const string IdleAdvice =
        "Who and which apps: GET /api/v1/usage/waste or the dashboard's panel; closing idle connections sooner, or reloading those apps less often in working hours, saves them (tally meter --close-idle-after measures it on an exported log).";

    /// <summary>A run-out instant in an alert's text, or what stands for it when there is none inside the period.</summary>
    private static string Instant(RunOut runOut) => runOut switch
    {
        { Outcome: RunOutOutcome.Projected or RunOutOutcome.AlreadyReached, At: { } at } => Inv($"{at:yyyy-MM-dd HH:mm} UTC"),
        { Outcome: RunOutOutcome.NotWithinPeriod } => "after the period ends",
        _ => "never",
    };

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Fmt(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
