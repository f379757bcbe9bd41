using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using MailKit.Net.Smtp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Monitoring;

/// <summary>Told by a tenant's writer after each batch is durable. Must return at once: it runs on the writer's loop.</summary>
public interface ICommitObserver
{
    void Committed(string tenant, IReadOnlyList<LedgerEntry> entries);
}

/// <summary>The rule kinds and what their value means.</summary>
public static class AlertKinds
{
    public const string ThresholdPercent = "threshold-percent";   // value: percent of the included minutes
    public const string ThresholdMinutes = "threshold-minutes";   // value: consumed minutes
    public const string AboveRunRate = "above-run-rate";          // value: margin in percent over the expected minutes
    public const string ForecastRunOut = "forecast-run-out";      // no value: included minutes projected to run out this period
    public const string OverageStarted = "overage-started";       // no value: consumed passed the included minutes
    public const string Lockout = "lockout";                      // no value: an event was denied pool-exhausted
    public const string UserMinutes = "user-minutes";             // value: one user's minutes in the period (subject: the user)

    public static readonly string[] All = [ThresholdPercent, ThresholdMinutes, AboveRunRate, ForecastRunOut, OverageStarted, Lockout, UserMinutes];

    public static bool NeedsValue(string kind) => kind is ThresholdPercent or ThresholdMinutes or AboveRunRate or UserMinutes;
}

/// <summary>
/// Checks a tenant's alert rules after each committed batch, off the writer's thread: the writer only hands the
/// committed entries to an unbounded channel (<see cref="Committed"/>); this service drains it, folds what piled up
/// per tenant, evaluates every rule against the ledger, and for each rule that holds, first claims
/// (tenant, rule, period, subject) in the ledger (unique: at most once, durable across restarts), then sends on the
/// rule's channels and records each delivery in the history.
/// </summary>
public sealed class AlertEvaluator(
    ILedgerStore store, IServiceProvider services, TimeProvider time, EmailSender email, WebhookSender webhooks, ILogger<AlertEvaluator> log)
    : BackgroundService, ICommitObserver
{
    private readonly Channel<(string Tenant, IReadOnlyList<LedgerEntry> Entries)> _queue =
        Channel.CreateUnbounded<(string, IReadOnlyList<LedgerEntry>)>(new UnboundedChannelOptions { SingleReader = true });

    private long _pending;

    /// <summary>Batches handed over and not yet evaluated (tests wait for 0).</summary>
    public long Pending => Interlocked.Read(ref _pending);

    public void Committed(string tenant, IReadOnlyList<LedgerEntry> entries)
    {
        if (entries.Count > 0)
        {
            Interlocked.Increment(ref _pending);
            if (!_queue.Writer.TryWrite((tenant, entries)))
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                var byTenant = new Dictionary<string, Touched>(StringComparer.Ordinal);
                var taken = 0;
                while (_queue.Reader.TryRead(out var item))
                {
                    taken++;
                    if (!byTenant.TryGetValue(item.Tenant, out var touched))
                    {
                        byTenant[item.Tenant] = touched = new Touched();
                    }
                    touched.Add(item.Entries);
                }
                foreach (var (tenant, touched) in byTenant)
                {
                    try
                    {
                        await EvaluateAsync(tenant, touched, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        log.LogError(e, "Alert evaluation failed for tenant {Tenant}", tenant);
                    }
                }
                Interlocked.Add(ref _pending, -taken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>What a run of batches touched: periods with decisions, users charged per period, periods with a lockout.</summary>
    private sealed class Touched
    {
        public HashSet<string> Periods { get; } = new(StringComparer.Ordinal);
        public HashSet<(string Period, string User)> ChargedUsers { get; } = [];
        public HashSet<string> Lockouts { get; } = new(StringComparer.Ordinal);

        public void Add(IReadOnlyList<LedgerEntry> entries)
        {
            foreach (var d in entries.SelectMany(e => e.Decisions))
            {
                Periods.Add(d.Period);
                if (d.Kind == "charged")
                {
                    ChargedUsers.Add((d.Period, d.User));
                }
                else if (d.Kind == "denied" && d.Reason == "pool-exhausted")
                {
                    Lockouts.Add(d.Period);
                }
            }
        }
    }

    private async Task EvaluateAsync(string tenant, Touched touched, CancellationToken cancel)
    {
        var rules = store.AlertRules(tenant);
        if (rules.Count == 0)
        {
            return;
        }
        // Resolved here, not injected: Tenants hands every writer this evaluator, so injecting it would be a cycle.
        var config = services.GetRequiredService<Tenants>().Writer(tenant).Snapshot.Config;
        var now = time.GetUtcNow();
        foreach (var periodText in touched.Periods.Order(StringComparer.Ordinal))
        {
            if (!Period.TryParse(periodText, out var period))
            {
                continue;
            }
            var figures = UsageMonitor.Compute(store, tenant, config, period, now);
            var consumed = figures.Usage.Minutes;
            var included = config.License?.IncludedMinutes;
            Dictionary<string, long>? userMinutes = null;
            foreach (var rule in rules)
            {
                var value = rule.Value ?? 0;
                var fired = new List<(string Subject, string Title, string Text)>();
                switch (rule.Kind)
                {
                    case AlertKinds.ThresholdPercent when included is > 0 && consumed >= included.Value * value / 100:
                        fired.Add(("", Inv($"{Fmt(value)} % of the included minutes used"),
                            Inv($"{consumed:N0} of {included:N0} included minutes are used ({Fmt(100.0 * consumed / included.Value)} %).")));
                        break;
                    case AlertKinds.ThresholdMinutes when consumed >= value:
                        fired.Add(("", Inv($"{Fmt(value)} minutes used"), Inv($"{consumed:N0} minutes are used this period (threshold {Fmt(value)}).")));
                        break;
                    case AlertKinds.AboveRunRate when figures.RunRate is { Status: RunRateStatus.Ahead, DeltaPercent: { } delta } rr && delta >= value:
                        fired.Add(("", Inv($"consumption {Fmt(delta)} % above the run-rate"),
                            Inv($"{consumed:N0} minutes used where {rr.ExpectedMinutes:N0} were expected by now ({Fmt(rr.ElapsedShare * 100)} % of the period): {Fmt(delta)} % above the run-rate (margin {Fmt(value)} %).")));
                        break;
                    case AlertKinds.ForecastRunOut when figures.Forecast.IncludedRunOut is { Outcome: RunOutOutcome.Projected or RunOutOutcome.AlreadyReached, At: { } at }:
                        fired.Add(("", Inv($"included minutes forecast to run out {at:yyyy-MM-dd HH:mm} UTC"),
                            Inv($"At the usual weekly pattern the included {included:N0} minutes run out at {at:yyyy-MM-dd HH:mm} UTC, before the period ends at {figures.Window.End:yyyy-MM-dd HH:mm} UTC. Projected for the period: {figures.Forecast.ProjectedDemandMinutes:N0} minutes.")));
                        break;
                    case AlertKinds.OverageStarted when included is { } inc && consumed > inc:
                        fired.Add(("", "overage started", Inv($"{consumed:N0} minutes are used, past the {inc:N0} included minutes: {consumed - inc:N0} overage minutes so far.")));
                        break;
                    case AlertKinds.Lockout when touched.Lockouts.Contains(periodText):
                        fired.Add(("", "the pool is exhausted: users are locked out",
                            Inv($"An event was denied 'pool-exhausted': {consumed:N0} minutes are used and the pool cannot cover another unit until the next period starts at {figures.Window.End:yyyy-MM-dd HH:mm} UTC.")));
                        break;
                    case AlertKinds.UserMinutes:
                        foreach (var (p, user) in touched.ChargedUsers.Where(c => c.Period == periodText).OrderBy(c => c.User, StringComparer.Ordinal))
                        {
                            userMinutes ??= store.UserUsage(tenant, periodText).ToDictionary(u => u.User, u => u.Minutes, StringComparer.Ordinal);
                            if (userMinutes.TryGetValue(user, out var minutes) && minutes >= value)
                            {
                                fired.Add((user, Inv($"user {user} passed {Fmt(value)} minutes"), Inv($"User {user} has used {minutes:N0} minutes this period (threshold {Fmt(value)}).")));
                            }
                        }
                        break;
                }
                foreach (var (subject, title, text) in fired)
                {
                    if (!store.ClaimAlert(new AlertClaim(tenant, rule.Id, periodText, subject, now)))
                    {
                        continue; // already sent this period: fire once
                    }
                    var alert = new AlertMessage(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)), tenant, rule, periodText, subject, now,
                        $"[Tally] {tenant}: {title} ({periodText})", $"{text}\n\nRule: {rule.Name} ({rule.Kind}).\nTenant: {tenant}. Period: {periodText}.\n",
                        new
                        {
                            consumedMinutes = consumed,
                            includedMinutes = included,
                            runRate = UsageMonitor.RunRateView(figures),
                            forecast = UsageMonitor.ForecastView(figures),
                        });
                    await DeliverAsync(alert, cancel).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task DeliverAsync(AlertMessage alert, CancellationToken cancel)
    {
        var channels = store.AlertChannels(alert.Tenant).Where(c => alert.Rule.ChannelIds.Contains(c.Id)).ToList();
        if (channels.Count == 0)
        {
            Record(alert, null, "no-channel", null);
            return;
        }
        byte[]? body = null;
        foreach (var channel in channels)
        {
            try
            {
                if (channel.Kind == "email")
                {
                    await email.SendAsync(channel, alert, cancel).ConfigureAwait(false);
                }
                else
                {
                    body ??= JsonSerializer.SerializeToUtf8Bytes(WebhookPayload(alert), JsonBody.Options);
                    await webhooks.SendAsync(channel, alert, body, cancel).ConfigureAwait(false);
                }
                Record(alert, channel, "sent", null);
            }
            catch (Exception e)
            {
                // The claim is already made (at most once), so a failure is final: the history shows it to the
                // tenant, in words that name no address or port; the log keeps the whole exception for the operator.
                log.LogWarning(e, "Alert {Alert} for tenant {Tenant} could not be sent on channel {Channel}", alert.Id, alert.Tenant, channel.Id);
                Record(alert, channel, "failed", cancel.IsCancellationRequested ? "the server stopped while sending" : FailureReason(channel, e));
                cancel.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>
    /// What the tenant reads about a failed delivery: the receiver's HTTP status, the relay's SMTP code, a refusal, or
    /// a generic reason. Raw exception messages name addresses and ports ("Connection refused (10.0.0.5:8080)") and
    /// would turn the history, readable with a read key, into a scanner of the server's network.
    /// </summary>
    private static string FailureReason(AlertChannelRecord channel, Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is AlertDeliveryException known)
            {
                return known.Message;
            }
        }
        if (channel.Kind == "email")
        {
            return e is SmtpCommandException smtp ? Inv($"the mail relay refused the message (SMTP {(int)smtp.StatusCode})") : "the mail relay could not be reached";
        }
        return "the webhook could not be reached";
    }

    /// <summary>The JSON a webhook receives (documented in docs/monitoring.md).</summary>
    public static object WebhookPayload(AlertMessage alert) => new
    {
        id = alert.Id,
        type = "tally.alert",
        tenant = alert.Tenant,
        rule = new { id = alert.Rule.Id, name = alert.Rule.Name, kind = alert.Rule.Kind, value = alert.Rule.Value },
        period = alert.Period,
        subject = alert.Subject.Length == 0 ? null : alert.Subject,
        firedAt = alert.FiredAt,
        title = alert.Title,
        text = alert.Text,
        figures = alert.Figures,
    };

    private void Record(AlertMessage alert, AlertChannelRecord? channel, string status, string? detail) =>
        store.AddAlertHistory(new AlertHistoryRecord(0, alert.Tenant, alert.Rule.Id, alert.Rule.Kind, alert.Period, alert.Subject, alert.FiredAt,
            channel?.Id, channel?.Kind, status, alert.Title, detail is { Length: > 1000 } ? detail[..1000] : detail));

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Fmt(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
