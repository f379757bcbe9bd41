using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Npgsql;
using Tally.Storage;

namespace Tally.StorageBenchmarks;

/// <summary>
/// The queries behind the overview (<c>/api/v1/licenses/overview</c>), the summary (<c>/api/v1/usage/summary</c>)
/// and the top users (<c>/api/v1/usage/users</c>), on a tenant with a month of 10,000 users and 1,000,000 units.
/// </summary>
[MemoryDiagnoser(false)]
public class ReportQueries
{
    private ILedgerStore _store = null!;

    [ParamsSource(nameof(Stores))]
    public string Store { get; set; } = "sqlite";

    public static IEnumerable<string> Stores() =>
        Environment.GetEnvironmentVariable(ReportLedger.PostgresVariable) is { Length: > 0 } ? ["sqlite", "postgres"] : ["sqlite"];

    [GlobalSetup]
    public void Setup()
    {
        _store = ReportLedger.Open(Store);
        // The position of the 900,000th unit, found once by walking the cursor (not timed).
        var after = (UnitPosition?)null;
        for (var read = 0; read < 900_000;)
        {
            var page = _store.Units(ReportLedger.Tenant, new UnitQuery(10_000, After: after)).Units;
            read += page.Count;
            after = new UnitPosition(page[^1].EndTicks, page[^1].Id);
        }
        _deep = after!.Value;
    }

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    /// <summary>The overview's one ledger query: the period's pool totals.</summary>
    [Benchmark]
    public PeriodUsage Overview() => _store.PeriodUsage(ReportLedger.Tenant, ReportLedger.Period);

    /// <summary>The summary's ledger queries: totals, pool minutes per hour of the month (run-rate), first event.</summary>
    [Benchmark]
    public long Summary()
    {
        var usage = _store.PeriodUsage(ReportLedger.Tenant, ReportLedger.Period);
        var hours = _store.HourlyPoolMinutes(ReportLedger.Tenant, ReportLedger.Start.UtcTicks, ReportLedger.End.UtcTicks);
        return usage.Minutes + hours.Count + (_store.FirstEventTicks(ReportLedger.Tenant) ?? 0);
    }

    /// <summary>Top users: every user's units, minutes and denials in the period, biggest first.</summary>
    [Benchmark]
    public int TopUsers() => _store.UserUsage(ReportLedger.Tenant, ReportLedger.Period).Take(10).Count();

    /// <summary>The first page of <c>/api/v1/licenses/consumption</c> (200 units, by end time): the baseline for the deep page.</summary>
    [Benchmark(Baseline = true)]
    public int ConsumptionFirstPage() => _store.Units(ReportLedger.Tenant, new UnitQuery(200)).Units.Count;

    /// <summary>A page 900,000 units in, from a cursor: keyset paging reads an index range, so depth should cost nothing.</summary>
    [Benchmark]
    public int ConsumptionDeepPage() => _store.Units(ReportLedger.Tenant, new UnitQuery(200, After: _deep)).Units.Count;

    /// <summary>The same depth walking back (<c>sort=-endTime</c> or a <c>prev</c> link).</summary>
    [Benchmark]
    public int ConsumptionDeepPageDescending() => _store.Units(ReportLedger.Tenant, new UnitQuery(200, Descending: true, After: _deep)).Units.Count;

    private UnitPosition _deep;

    /// <summary>
    /// The idempotency check of record for one group commit of 1,000 events whose ids the meter no longer remembers
    /// (older than Tally:IdempotencyWindow): half of them are in the ledger. Paid only after the meter has forgotten ids.
    /// </summary>
    [Benchmark]
    public int KnownEventIds1000() => _store.KnownEventIds(ReportLedger.Tenant, _ids).Count;

    private readonly string[] _ids = [.. Enumerable.Range(0, 1000).Select(i => i % 2 == 0 ? $"ev-{i * 997}" : $"new-{i}")];

    /// <summary>
    /// <c>/api/v1/usage/waste</c>'s ledger query (R14): the period's 100,000 reload-started units grouped by user, app
    /// and hour through the partial index, half of them idle at the default quiet time.
    /// </summary>
    [Benchmark]
    public long Waste() =>
        _store.ReloadWasteAsync(ReportLedger.Tenant, ReportLedger.Period, 30 * TimeSpan.TicksPerMinute, CancellationToken.None).GetAwaiter().GetResult().Total.IdleUnits;

    /// <summary>What an idle-reload alert rule reads after a batch in which a reload started a unit: the idle minutes alone.</summary>
    [Benchmark]
    public long IdleReloadMinutes() =>
        _store.IdleReloadMinutesAsync(ReportLedger.Tenant, ReportLedger.Period, 30 * TimeSpan.TicksPerMinute, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// The old users page's whole-period scan (per-user totals with apps, last activity and allotment), about 2 s on
    /// this ledger: the probe times it once with --users-page. <see cref="ReportPages"/> has the pages that replaced it.
    /// </summary>
    public int UsersPage() => _store.UserActivity(ReportLedger.Tenant, ReportLedger.Period, ReportLedger.Start.UtcTicks, ReportLedger.End.UtcTicks).Count;
}

/// <summary>Builds the benchmark ledger once (deterministic), and reuses it while its marker row is present.</summary>
public static class ReportLedger
{
    public const string PostgresVariable = "TALLY_BENCH_POSTGRES";
    public const string Tenant = "bench";
    public const string Period = "2026-03";
    public const int Users = 10_000;
    public const int Units = 1_000_000;
    public static readonly DateTimeOffset Start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset End = new(2026, 4, 1, 0, 0, 0, TimeSpan.Zero);

    public static string SqlitePath => Path.Combine(Path.GetTempPath(), $"tally-report-bench-v{SqliteLedgerStore.CurrentSchemaVersion}.db");

    public static ILedgerStore Open(string store)
    {
        ILedgerStore ledger = store == "postgres"
            ? new PostgresLedgerStore(PostgresConnection())
            : new SqliteLedgerStore(SqlitePath);
        ledger.Initialize();
        if (ledger.GetTenant(Tenant) is null || ledger.PeriodUsage(Tenant, Period).Units != Units)
        {
            Fill(ledger);
        }
        return ledger;
    }

    internal static string PostgresConnection()
    {
        var given = Environment.GetEnvironmentVariable(PostgresVariable) ?? throw new InvalidOperationException($"{PostgresVariable} is not set");
        using (var connection = new NpgsqlConnection(given))
        {
            connection.Open();
            using var command = new NpgsqlCommand("CREATE SCHEMA IF NOT EXISTS tally_bench;", connection);
            command.ExecuteNonQuery();
        }
        return new NpgsqlConnectionStringBuilder(given) { SearchPath = "tally_bench" }.ConnectionString;
    }

    /// <summary>
    /// 1,000,000 charged events, each one unit of 6 minutes, spread evenly over the month (one every ~2.7 s), users
    /// drawn round-robin with a skew (every 7th event goes to the first 100 users), 300 apps, and 1 denied event per 50.
    /// One unit in ten is a scheduled reload's (R14), every other one of those with its user's last engagement 45
    /// minutes before it (idle) and the rest 5 minutes before (not).
    /// </summary>
    private static void Fill(ILedgerStore ledger)
    {
        var clock = Stopwatch.StartNew();
        ledger.CreateTenant(new TenantRecord(Tenant, "Benchmark", Start));
        var step = (End - Start).Ticks / Units;
        var six = TimeSpan.TicksPerMinute * 6;
        var batch = new List<LedgerEntry>(10_000);
        for (var i = 0; i < Units; i++)
        {
            var user = $"user-{(i % 7 == 0 ? i % 100 : i % Users):D5}";
            var app = $"app-{i % 300:D3}";
            var t = Start.UtcTicks + i * step;
            var denied = i % 50 == 49;
            var reload = i % 10 == 3;
            long? engaged = reload ? t - TimeSpan.TicksPerMinute * (i % 20 == 3 ? 45 : 5) : null;
            batch.Add(new LedgerEntry($"ev-{i}", t, null, reload ? "" : user, "", app, reload ? "scheduled-reload" : "open-app",
                [new StoredDecision("charged", null, user, app, Period, t, t + six, 0, 6)],
                [new StoredUnit(0, user, "", app, Period, t, t + six, 6, "time", "analyzer_time", EngagedTicks: engaged)], Period));
            if (denied)
            {
                batch.Add(new LedgerEntry($"dn-{i}", t, null, user, "", app, "open-app",
                    [new StoredDecision("denied", "pool-exhausted", user, app, Period, 0, 0, t + six, 0)], [], Period));
            }
            if (batch.Count >= 10_000)
            {
                ledger.Append(Tenant, batch);
                batch.Clear();
            }
        }
        ledger.Append(Tenant, batch);
        Console.WriteLine($"// built the report ledger ({Units:N0} units) in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>A quick look without BenchmarkDotNet: median and worst of 20 runs of each query.</summary>
    public static void Probe(string store, bool usersPage = false)
    {
        var queries = new ReportQueries { Store = store };
        queries.Setup();
        if (usersPage)
        {
            var once = Stopwatch.StartNew();
            queries.UsersPage();
            Console.WriteLine($"{store} users page (UserActivity), once: {once.Elapsed.TotalMilliseconds:0} ms");
        }
        foreach (var (name, run) in new (string, Func<object>)[]
                 { ("overview", () => queries.Overview()), ("summary", () => queries.Summary()), ("top users", () => queries.TopUsers()), ("waste", () => queries.Waste()), ("idle-reload minutes", () => queries.IdleReloadMinutes()) })
        {
            run();
            var times = Enumerable.Range(0, 20).Select(_ =>
            {
                var sw = Stopwatch.StartNew();
                run();
                return sw.Elapsed.TotalMilliseconds;
            }).Order().ToList();
            Console.WriteLine($"{store} {name}: median {times[10]:0.0} ms, worst {times[^1]:0.0} ms");
        }
        queries.Cleanup();
    }
}
