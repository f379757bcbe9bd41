using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Licensing;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Demo;

/// <summary>
/// Sets the demo tenant up once (idempotent across restarts: every step checks the ledger first), imports its
/// history through the tenant's writer, prints where to look, then adds live activity every few seconds.
/// </summary>
internal sealed class DemoService(
    DemoState state, DemoVendor vendor, ITenantCatalog catalog, IEventLedger ledger, IAlertStore alerts, Tenants tenants, ApiKeys keys, TimeProvider time,
    IServer server, IHostApplicationLifetime lifetime, ILogger<DemoService> log) : BackgroundService
{
    /// <summary>Pool terms sized so the generated month runs a little ahead of the run-rate and into its overage.</summary>
    internal const int Packs = 4;
    internal const int PackMinutes = 2500;
    internal const long OverageCapMinutes = 2000;
    internal static readonly TimeSpan LiveInterval = TimeSpan.FromSeconds(3);
    private const int ImportBatch = 2000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        string readKey;
        string ingestKey;
        try
        {
            readKey = await PrepareAsync();
            ingestKey = Key("ingest-key.txt", ApiRole.Ingest);
        }
        catch (Exception e)
        {
            log.LogError(e, "The demo could not be set up");
            state.SetFailed(e);
            return;
        }
        await WaitForStartAsync(stoppingToken);
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var url = addresses.FirstOrDefault() ?? "http://localhost:5000";
        Console.WriteLine($"""

            Tally demo is ready.
              Dashboard: {url.TrimEnd('/').Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal).Replace("://[::]", "://localhost", StringComparison.Ordinal)}/
              Read key (sign in with it): {readKey}
              Ingest key (for apps that send events): {ingestKey}
              Tenant '{DemoSetup.TenantId}'; demo files in {vendor.Folder}. Live activity every {LiveInterval.TotalSeconds:0} s; Ctrl+C stops.

            """);
        state.SetReady(readKey, ingestKey);
        await LiveAsync(stoppingToken);
    }

    private async Task WaitForStartAsync(CancellationToken cancel)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(cancel);
    }

    /// <summary>Tenant, license, plan, history and read key: each created only when the ledger lacks it.</summary>
    internal async Task<string> PrepareAsync()
    {
        var now = time.GetUtcNow();
        var tenant = DemoSetup.TenantId;
        if (catalog.GetTenant(tenant) is null)
        {
            catalog.CreateTenant(new TenantRecord(tenant, DemoSetup.TenantName, now));
        }
        var writer = tenants.Writer(tenant);
        var changed = false;
        // A license that no longer verifies (the demo key was replaced) or ends within 40 days is issued afresh.
        if (catalog.GetLicense(tenant) is not { } license || vendor.Verifier.Verify(license.Key, now) is not { IsValid: true } verified
            || verified.Terms!.ValidTo < now.AddDays(40))
        {
            catalog.SetLicense(new LicenseRecord(tenant, vendor.Issue(Terms(now)), now));
            changed = true;
        }
        if (catalog.GetPlan(tenant) is null)
        {
            catalog.SetPlan(tenant, JsonSerializer.Serialize(Plan(), AllocationPlans.Json), now);
            changed = true;
        }
        if (changed)
        {
            await writer.ReconfigureAsync();
        }
        // Before the history, so that importing it fires them as the usage crosses each line.
        AddAlertRules(now);
        if (ledger.EventCount(tenant) == 0)
        {
            await ImportHistoryAsync(writer, now);
        }
        return Key("read-key.txt", ApiRole.Read);
    }

    internal static LicenseTerms Terms(DateTimeOffset now)
    {
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        return new LicenseTerms
        {
            LicenseId = "DEMO-" + now.ToString("yyyyMMdd", CultureInfo.InvariantCulture),
            Customer = DemoSetup.TenantName,
            IssuedAt = now,
            ValidFrom = monthStart.AddMonths(-1),
            ValidTo = monthStart.AddYears(1),
            Packs = Packs,
            PackMinutes = PackMinutes,
            Overage = OverageAllowance.Capped(OverageCapMinutes),
            ProfessionalSeats = 2,
            AnalyzerSeats = 5,
        };
    }

    /// <summary>Two Professional and four Analyzer seats, one capped capacity user (who gets locked out), the rest on capacity.</summary>
    internal static AllocationPlanDto Plan() => new()
    {
        Users =
        [
            new UserPlanDto(DemoSetup.UserName(1), "professional", null, null),
            new UserPlanDto(DemoSetup.UserName(2), "professional", null, null),
            new UserPlanDto(DemoSetup.UserName(3), "analyzer", null, null),
            new UserPlanDto(DemoSetup.UserName(4), "analyzer", null, null),
            new UserPlanDto(DemoSetup.UserName(5), "analyzer", null, null),
            new UserPlanDto(DemoSetup.UserName(6), "analyzer", null, null),
            new UserPlanDto(DemoSetup.UserName(7), "capacity", null, 120),
        ],
    };

    /// <summary>
    /// 80 % and 100 % of the included minutes, and consumption 10 % above the run-rate, each without a channel: a
    /// firing is recorded in the alert history as "no-channel" and sent nowhere, so the demo makes no network traffic
    /// (an e-mail channel needs the operator's relay, and webhooks to this machine are refused by default).
    /// </summary>
    private void AddAlertRules(DateTimeOffset now)
    {
        if (alerts.AlertRules(DemoSetup.TenantId).Count > 0)
        {
            return;
        }
        foreach (var (name, kind, value) in AlertRules)
        {
            var id = "rule_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
            alerts.TryAddAlertRule(new AlertRuleRecord(id, DemoSetup.TenantId, name, kind, value, [], now), Monitoring.MonitoringEndpoints.MaxRulesPerTenant);
        }
    }

    internal static readonly (string Name, string Kind, double Value)[] AlertRules =
    [
        ("80 % of the pool", Monitoring.AlertKinds.ThresholdPercent, 80),
        ("pool used up", Monitoring.AlertKinds.ThresholdPercent, 100),
        ("ahead of the run-rate", Monitoring.AlertKinds.AboveRunRate, 10),
    ];

    /// <summary>Last month in full and this month up to now, in time order, through the writer with their own instants.</summary>
    private async Task ImportHistoryAsync(TenantWriter writer, DateTimeOffset now)
    {
        var calendar = new PeriodCalendar(TimeZoneInfo.Utc);
        var current = calendar.PeriodOf(now);
        var previous = current.Month == 1 ? new Period(current.Year - 1, 12) : new Period(current.Year, current.Month - 1);
        var events = new List<IncomingEvent>(ImportBatch);
        var ticks = new List<long>(ImportBatch);
        long imported = 0;
        foreach (var month in new[] { previous, current })
        {
            foreach (var e in state.History(month))
            {
                if (e.TimeTicks >= now.UtcTicks)
                {
                    break;
                }
                events.Add(new IncomingEvent(e.Id, e.User, e.Device, e.App, e.Action, null));
                ticks.Add(e.TimeTicks);
                if (events.Count == ImportBatch)
                {
                    imported += await FlushAsync(writer, events, ticks);
                }
            }
        }
        imported += await FlushAsync(writer, events, ticks);
        log.LogInformation("Demo history imported: {Events} events", imported);
    }

    private static async Task<int> FlushAsync(TenantWriter writer, List<IncomingEvent> events, List<long> ticks)
    {
        var count = events.Count;
        if (count > 0)
        {
            await writer.ImportAsync([.. events], [.. ticks]);
            events.Clear();
            ticks.Clear();
        }
        return count;
    }

    /// <summary>
    /// The read and ingest keys are kept in the demo folder (<paramref name="name"/>) so every start can print them and a
    /// sample app can read its key (the ledger keeps only their hashes); a saved key that no longer resolves is replaced.
    /// </summary>
    private string Key(string name, ApiRole role)
    {
        var file = Path.Combine(state.Folder, name);
        if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } saved
            && keys.Resolve(saved) is { Tenant: DemoSetup.TenantId } caller && caller.Role == role)
        {
            return saved;
        }
        var (_, key) = keys.Issue(DemoSetup.TenantId, role);
        File.WriteAllText(file, key + Environment.NewLine);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return key;
    }

    /// <summary>A few capacity users at work: opening apps and selecting, now and then an authoring attempt they may not make.</summary>
    private async Task LiveAsync(CancellationToken stoppingToken)
    {
        var writer = tenants.Writer(DemoSetup.TenantId);
        var random = new Random();
        long sequence = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(LiveInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var batch = new List<IncomingEvent>();
            var stamp = time.GetUtcNow().UtcTicks.ToString(CultureInfo.InvariantCulture);
            for (var i = 0; i < 1 + random.Next(2); i++)
            {
                var n = 7 + random.Next(DemoSetup.Users - 6);
                var user = DemoSetup.UserName(n);
                var device = "d" + n.ToString("D5", CultureInfo.InvariantCulture) + "-1";
                var app = DemoSetup.AppName(1 + random.Next(DemoSetup.Apps));
                var action = random.Next(25) == 0 ? MeterAction.CreateSheet : random.Next(3) == 0 ? MeterAction.OpenApp : MeterAction.Select;
                batch.Add(new IncomingEvent($"demo-live-{stamp}-{sequence++}", user, device, app, action, null));
            }
            try
            {
                await writer.SubmitAsync(batch);
            }
            catch (Exception e) when (e is LedgerUnavailableException or ObjectDisposedException)
            {
                log.LogWarning(e, "Demo live activity skipped a beat");
            }
        }
    }
}
