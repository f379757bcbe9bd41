using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using MailKit.Net.Smtp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
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
    public const string SourceFailing = "source-failing";         // value: hours without a successful pull (subject: the source); a stopped source at once
    public const string IdleReloadMinutes = "idle-reload-minutes"; // value: minutes charged by scheduled reloads to idle users (R14)
    public const string IdleReloadPercent = "idle-reload-percent"; // value: those minutes in percent of the included minutes

    public static readonly string[] All =
        [ThresholdPercent, ThresholdMinutes, AboveRunRate, ForecastRunOut, OverageStarted, Lockout, UserMinutes, SourceFailing, IdleReloadMinutes, IdleReloadPercent];

    public static bool NeedsValue(string kind) =>
        kind is ThresholdPercent or ThresholdMinutes or AboveRunRate or UserMinutes or SourceFailing or IdleReloadMinutes or IdleReloadPercent;

    /// <summary>Whether a rule of <paramref name="kind"/> reads the period's idle-reload minutes (R14), which cost a query of their own.</summary>
    public static bool ReadsIdleReloads(string kind) => kind is IdleReloadMinutes or IdleReloadPercent;

    // Which run-out a forecast-run-out rule fires on (issue 16): the point forecast's (the default, and every rule made
    // before there was a choice), or the band's earliest, the 10th percentile instant (usage at its 90th percentile),
    // for a tenant that would rather hear too early than too late.
    public const string BoundExpected = "expected";
    public const string BoundPessimistic = "pessimistic";

    public static readonly string[] Bounds = [BoundExpected, BoundPessimistic];

    /// <summary>The bound a rule fires on, as the API shows it: null for kinds without one.</summary>
    public static string? BoundOf(AlertRuleRecord rule) => rule.Kind == ForecastRunOut ? rule.Bound ?? BoundExpected : null;
}

/// <summary>
/// Checks a tenant's alert rules after each committed batch and sends what fires, every tenant on its own, so no
/// tenant's receiver can hold up another tenant's alerts:
/// <list type="bullet">
/// <item>The writer's hand-over (<see cref="Committed"/>) folds the committed decisions into the tenant's pending set
/// (periods, charged users, lockouts) and wakes the tenant's evaluator. It never waits and never touches the ledger;
/// the set grows only with distinct (period, user) pairs, so a burst of batches costs no more than the users it names.</item>
/// <item>The tenant's evaluator checks every rule against the ledger and, for each rule that holds, first claims
/// (tenant, rule, period, subject) in the ledger (unique: at most once, durable across restarts), then queues the
/// alert for the tenant's sender. The queue is bounded (<see cref="AlertOptions.DeliveryQueueCapacity"/>): when it is
/// full the new alert is dropped, and the drop is in the history and the log.</item>
/// <item>The tenant's sender sends its queued alerts one at a time and records each delivery in the history.</item>
/// </list>
/// </summary>
public sealed class AlertEvaluator : IHostedService, ICommitObserver
{
    private readonly IAlertStore _alerts;
    private readonly IUsageReports _reports;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly EmailSender _email;
    private readonly WebhookSender _webhooks;
    private readonly int _queueCapacity;
    private readonly ILogger<AlertEvaluator> _log;
    private readonly ConcurrentDictionary<string, Lazy<TenantAlerts>> _tenants = new(StringComparer.Ordinal);
    // Never disposed: it lives as long as the server, and a writer may still hand over a batch while the host stops.
    private readonly CancellationTokenSource _stopping = new();

    public AlertEvaluator(IAlertStore alerts, IUsageReports reports, IServiceProvider services, TimeProvider time, EmailSender email, WebhookSender webhooks,
        IOptions<AlertOptions> options, ILogger<AlertEvaluator> log)
    {
        _alerts = alerts;
        _reports = reports;
        _services = services;
        _time = time;
        _email = email;
        _webhooks = webhooks;
        _queueCapacity = options.Value.DeliveryQueueCapacity;
        _log = log;
    }

    public void Committed(string tenant, IReadOnlyList<LedgerEntry> entries)
    {
        if (entries.Count == 0 || _stopping.IsCancellationRequested)
        {
            return;
        }
        if (!_tenants.TryGetValue(tenant, out var alerts))
        {
            // Lazy: of two racing adds only the one stored starts loops.
            alerts = _tenants.GetOrAdd(tenant, t => new Lazy<TenantAlerts>(() => new TenantAlerts(this, t)));
        }
        alerts.Value.Hand(entries);
    }

    /// <summary>
    /// A source of the tenant was just pulled (<see cref="Import.SourceSync"/>): its <c>source-failing</c> rules are
    /// checked by the tenant's evaluator, like a committed batch, so one loop claims and queues all of a tenant's alerts.
    /// </summary>
    public void SourceChecked(string tenant, SourceFacts source)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        _tenants.GetOrAdd(tenant, t => new Lazy<TenantAlerts>(() => new TenantAlerts(this, t))).Value.HandSource(source);
    }

    /// <summary>
    /// Completes once every batch the tenant's writer handed over before this call has been evaluated and every alert
    /// that evaluation queued has been sent (or has failed) and is in the history. It is how a caller (a test, a
    /// drain) learns that the alerting has caught up with what it did, instead of sleeping and hoping: "no second
    /// alert" can only be said once the evaluator has seen the batch that could have fired it.
    /// </summary>
    public Task IdleAsync(string tenant, CancellationToken cancellationToken = default) =>
        _tenants.TryGetValue(tenant, out var alerts) ? alerts.Value.IdleAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>Nothing to start: a tenant's evaluator and sender start with its first committed batch.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_tenants.Values.Select(t => t.Value.Completion)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An alert claimed and waiting for its tenant's sender, with the channels it goes to.</summary>
    private sealed record Delivery(AlertMessage Alert, IReadOnlyList<AlertChannelRecord> Channels);

    /// <summary>One tenant's alerting: its pending decisions, its evaluator and its sender, apart from every other tenant's.</summary>
    private sealed class TenantAlerts
    {
        private readonly AlertEvaluator _owner;
        private readonly string _tenant;
        private readonly Lock _gate = new();
        private Touched _pending = new();
        // One wake-up at most waits: it covers everything folded in before the evaluator takes the pending set.
        private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
            new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        private readonly Channel<Delivery> _deliveries;
        // Progress counters for IdleAsync: batches handed over / evaluated, deliveries queued / finished.
        private long _handed;
        private long _evaluated;
        private long _queued;
        private long _finished;
        // Completed and replaced whenever a counter moves, so IdleAsync waits on progress instead of polling.
        private TaskCompletionSource _progressed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TenantAlerts(AlertEvaluator owner, string tenant)
        {
            _owner = owner;
            _tenant = tenant;
            _deliveries = Channel.CreateBounded<Delivery>(new BoundedChannelOptions(owner._queueCapacity) { SingleReader = true, SingleWriter = true });
            Completion = RunAsync(owner._stopping.Token);
        }

        /// <summary>Done when the server stops and both loops have ended.</summary>
        public Task Completion { get; }

        /// <summary>Runs on the tenant's writer: folds and signals, nothing that can wait.</summary>
        public void Hand(IReadOnlyList<LedgerEntry> entries)
        {
            lock (_gate)
            {
                _pending.Add(entries);
                _handed++;
            }
            _wake.Writer.TryWrite(true);
        }

        /// <summary>Folds a source's latest status in (the newest per source wins) and wakes the evaluator.</summary>
        public void HandSource(SourceFacts source)
        {
            lock (_gate)
            {
                _pending.Sources[source.Id] = source;
                _handed++;
            }
            _wake.Writer.TryWrite(true);
        }

        private async Task RunAsync(CancellationToken stop)
        {
            var evaluating = Task.Run(() => EvaluateLoopAsync(stop), CancellationToken.None);
            var sending = Task.Run(() => SendLoopAsync(stop), CancellationToken.None);
            await Task.WhenAll(evaluating, sending).ConfigureAwait(false);
            // Claimed but never sent (the claim is what makes delivery at most once): the history says so.
            while (_deliveries.Reader.TryRead(out var left))
            {
                _owner.RecordEach(left, "failed", "the server stopped before it was sent");
            }
        }

        private async Task EvaluateLoopAsync(CancellationToken stop)
        {
            try
            {
                while (await _wake.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
                {
                    _wake.Reader.TryRead(out _);
                    Touched touched;
                    long generation;
                    lock (_gate)
                    {
                        touched = _pending;
                        _pending = new Touched();
                        generation = _handed;
                    }
                    try
                    {
                        await _owner.EvaluateAsync(_tenant, touched, this, stop).ConfigureAwait(false);
                    }
                    catch (Exception e)
                    {
                        _owner._log.LogError(e, "Alert evaluation failed for tenant {Tenant}", _tenant);
                    }
                    Volatile.Write(ref _evaluated, generation);
                    Progress();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }

        private async Task SendLoopAsync(CancellationToken stop)
        {
            try
            {
                while (await _deliveries.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
                {
                    while (!stop.IsCancellationRequested && _deliveries.Reader.TryRead(out var delivery))
                    {
                        await _owner.DeliverAsync(delivery, stop).ConfigureAwait(false);
                        Interlocked.Increment(ref _finished);
                        Progress();
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }

        /// <summary>Queues a claimed alert for the sender; false when the queue is full. Never waits.</summary>
        public bool TryQueue(Delivery delivery)
        {
            // Counted before the write: the sender can finish it before TryWrite returns.
            Interlocked.Increment(ref _queued);
            if (_deliveries.Writer.TryWrite(delivery))
            {
                return true;
            }
            Interlocked.Decrement(ref _queued);
            return false;
        }

        public async Task IdleAsync(CancellationToken cancellationToken)
        {
            long target;
            lock (_gate)
            {
                target = _handed;
            }
            while (true)
            {
                // Taken before the check: progress made after the check completes this task, so no wake-up is lost.
                var progressed = Volatile.Read(ref _progressed).Task;
                if (Volatile.Read(ref _evaluated) >= target && Interlocked.Read(ref _finished) == Interlocked.Read(ref _queued))
                {
                    return;
                }
                await progressed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        private void Progress() =>
            Interlocked.Exchange(ref _progressed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>What a run of batches touched: periods with decisions, users charged per period, periods with a lockout.</summary>
    private sealed class Touched
    {
        public HashSet<string> Periods { get; } = new(StringComparer.Ordinal);
        public HashSet<(string Period, string User)> ChargedUsers { get; } = [];
        public HashSet<string> Lockouts { get; } = new(StringComparer.Ordinal);
        // Periods in which a scheduled reload started a unit: only then can their idle-reload minutes (R14) have grown.
        public HashSet<string> ReloadUnits { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, SourceFacts> Sources { get; } = new(StringComparer.Ordinal);

        public bool IsEmpty => Periods.Count == 0 && Sources.Count == 0;

        private static readonly string Charged = DecisionKind.Charged.ToWire();
        private static readonly string Denied = DecisionKind.Denied.ToWire();
        private static readonly string? PoolExhausted = DenyReason.PoolExhausted.ToWire();
        private static readonly string ScheduledReload = MeterAction.ScheduledReload.ToWire();

        public void Add(IReadOnlyList<LedgerEntry> entries)
        {
            foreach (var e in entries)
            {
                if (e.Action == ScheduledReload && e.Units.Count > 0)
                {
                    ReloadUnits.Add(e.Units[0].Period);
                }
            }
            foreach (var d in entries.SelectMany(e => e.Decisions))
            {
                Periods.Add(d.Period);
                // The ledger's rows hold the wire names DecisionRows wrote; compare with the same names.
                // An observed record's minutes were charged by its source (R13): they count for a user's threshold too.
                if (d.Kind == Charged || (d.Kind == ObservedEntries.DecisionKind && d.Minutes > 0))
                {
                    ChargedUsers.Add((d.Period, d.User));
                }
                else if (d.Kind == Denied && d.Reason == PoolExhausted)
                {
                    Lockouts.Add(d.Period);
                }
            }
        }
    }

    private async Task EvaluateAsync(string tenant, Touched touched, TenantAlerts queue, CancellationToken stop)
    {
        var rules = touched.IsEmpty ? [] : _alerts.AlertRules(tenant);
        if (rules.Count == 0)
        {
            return;
        }
        // Resolved here, not injected: Tenants hands every writer this evaluator, so injecting it would be a cycle.
        var writer = _services.GetRequiredService<Tenants>().Writer(tenant);
        var config = writer.Snapshot.Config;
        var now = _time.GetUtcNow();
        IReadOnlyList<AlertChannelRecord>? channels = null;
        // A source's alert is claimed once per source and period of the tenant's calendar, like a period's, and carries
        // the current period's figures.
        var current = new PeriodCalendar(config.MeterOptions.TimeZone).PeriodOf(now.UtcTicks);
        AlertFigures? currentFigures = null;
        foreach (var source in touched.Sources.Values.OrderBy(s => s.Id, StringComparer.Ordinal))
        {
            foreach (var rule in rules.Where(r => r.Kind == AlertKinds.SourceFailing))
            {
                foreach (var (subject, title, text) in AlertRules.DecideSource(rule, source, now))
                {
                    currentFigures ??= FiguresOf(UsageMonitor.Compute(_reports, tenant, config, current, now, writer.ObservedPool, writer.Calendar));
                    Fire(rule, current.ToString(), subject, title, text, currentFigures);
                }
            }
        }
        foreach (var periodText in touched.Periods.Order(StringComparer.Ordinal))
        {
            if (!Period.TryParse(periodText, out var period))
            {
                continue;
            }
            var figures = UsageMonitor.Compute(_reports, tenant, config, period, now, writer.ObservedPool, writer.Calendar);
            var consumed = figures.Usage.Minutes;
            var facts = new PeriodFacts(figures, touched.Lockouts.Contains(periodText),
                rules.Any(r => r.Kind == AlertKinds.UserMinutes) ? ChargedUserMinutes(tenant, periodText, touched) : [],
                touched.ReloadUnits.Contains(periodText) && rules.Any(r => AlertKinds.ReadsIdleReloads(r.Kind))
                    ? await _reports.IdleReloadMinutesAsync(tenant, periodText, IdleReload.DefaultQuietMinutes * TimeSpan.TicksPerMinute, stop).ConfigureAwait(false)
                    : null);
            foreach (var rule in rules)
            {
                foreach (var (subject, title, text) in AlertRules.Decide(rule, facts))
                {
                    Fire(rule, periodText, subject, title, text, FiguresOf(figures));
                }
            }
        }

        // Claims (tenant, rule, period, subject) once, then queues the alert to the rule's channels (or records why not).
        void Fire(AlertRuleRecord rule, string periodText, string subject, string title, string text, AlertFigures figures)
        {
            if (!_alerts.ClaimAlert(new AlertClaim(tenant, rule.Id, periodText, subject, now)))
            {
                return; // already sent this period: fire once
            }
            var alert = new AlertMessage(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)), tenant, rule, periodText, subject, now,
                $"[Tally] {tenant}: {title} ({periodText})", $"{text}\n\nRule: {rule.Name} ({rule.Kind}).\nTenant: {tenant}. Period: {periodText}.\n", figures);
            channels ??= _alerts.AlertChannels(tenant);
            var delivery = new Delivery(alert, [.. channels.Where(c => rule.ChannelIds.Contains(c.Id))]);
            if (delivery.Channels.Count == 0)
            {
                Record(alert, null, "no-channel", null);
            }
            else if (!queue.TryQueue(delivery))
            {
                // Dropping the newest keeps the evaluator (and so the writer's hand-over) from ever waiting on a receiver.
                _log.LogWarning("Alert {Alert} for tenant {Tenant} dropped: {Capacity} alerts of the tenant are already waiting to be sent",
                    alert.Id, tenant, _queueCapacity);
                RecordEach(delivery, "dropped", Inv($"queue full: {_queueCapacity} alerts of this tenant are waiting to be sent"));
            }
        }
    }

    private static AlertFigures FiguresOf(MonitorFigures figures) =>
        new(figures.Usage.Minutes, figures.IncludedMinutes, UsageMonitor.RunRateView(figures), UsageMonitor.ForecastView(figures));

    /// <summary>The period minutes of the users charged in the batch just committed (the only ones who can have passed a threshold).</summary>
    private IReadOnlyList<(string User, long Minutes)> ChargedUserMinutes(string tenant, string period, Touched touched)
    {
        var charged = touched.ChargedUsers.Where(c => c.Period == period).Select(c => c.User).ToHashSet(StringComparer.Ordinal);
        return charged.Count == 0 ? [] : [.. _reports.UserUsage(tenant, period).Where(u => charged.Contains(u.User)).Select(u => (u.User, u.Minutes))];
    }

    private async Task DeliverAsync(Delivery delivery, CancellationToken stop)
    {
        var alert = delivery.Alert;
        byte[]? body = null;
        foreach (var channel in delivery.Channels)
        {
            if (stop.IsCancellationRequested)
            {
                Record(alert, channel, "failed", "the server stopped before it was sent");
                continue;
            }
            try
            {
                if (channel.Kind == "email")
                {
                    await _email.SendAsync(channel, alert, stop).ConfigureAwait(false);
                }
                else
                {
                    body ??= JsonSerializer.SerializeToUtf8Bytes(WebhookPayload(alert), JsonBody.Options);
                    await _webhooks.SendAsync(channel, alert, body, stop).ConfigureAwait(false);
                }
                Record(alert, channel, "sent", null);
            }
            catch (Exception e)
            {
                // The claim is already made (at most once), so a failure is final: the history shows it to the
                // tenant, in words that name no address or port; the log keeps the whole exception for the operator.
                _log.LogWarning(e, "Alert {Alert} for tenant {Tenant} could not be sent on channel {Channel}", alert.Id, alert.Tenant, channel.Id);
                Record(alert, channel, "failed", stop.IsCancellationRequested ? "the server stopped while sending" : FailureReason(channel, e));
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
    public static AlertWebhook WebhookPayload(AlertMessage alert) => new(
        alert.Id, "tally.alert", alert.Tenant, new AlertWebhookRule(alert.Rule.Id, alert.Rule.Name, alert.Rule.Kind, alert.Rule.Value, AlertKinds.BoundOf(alert.Rule)), alert.Period,
        alert.Subject.Length == 0 ? null : alert.Subject, alert.FiredAt, alert.Title, alert.Text, alert.Figures);

    private void RecordEach(Delivery delivery, string status, string detail)
    {
        foreach (var channel in delivery.Channels)
        {
            try
            {
                Record(delivery.Alert, channel, status, detail);
            }
            catch (Exception e)
            {
                _log.LogError(e, "Alert {Alert} for tenant {Tenant}: the history row '{Status}' could not be written", delivery.Alert.Id, delivery.Alert.Tenant, status);
            }
        }
    }

    private void Record(AlertMessage alert, AlertChannelRecord? channel, string status, string? detail) =>
        _alerts.AddAlertHistory(new AlertHistoryRecord(0, alert.Tenant, alert.Rule.Id, alert.Rule.Kind, alert.Period, alert.Subject, alert.FiredAt,
            channel?.Id, channel?.Kind, status, alert.Title, detail is { Length: > 1000 } ? detail[..1000] : detail));

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
