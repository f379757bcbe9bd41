using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Tally.Storage;

namespace Tally.StorageBenchmarks;

/// <summary>
/// The users and apps pages (<c>/api/v1/usage/users</c>, <c>/api/v1/usage/apps</c>) on the same month of 10,000 users
/// and 1,000,000 units as <see cref="ReportQueries"/>: the database's sorted, searched, paged query over the rollups
/// against the old path as the baseline of each page (every row from the whole-period scan, then sorted, searched
/// and cut in memory as the server did).
/// </summary>
[MemoryDiagnoser(false)]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ReportPages
{
    private const int PageSize = 100;
    private ILedgerStore _store = null!;

    [ParamsSource(nameof(Stores))]
    public string Store { get; set; } = "sqlite";

    public static IEnumerable<string> Stores() => ReportQueries.Stores();

    [GlobalSetup]
    public void Setup() => _store = ReportLedger.Open(Store);

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    /// <summary>The old users page: the whole period's users from the scan, sorted by minutes (then units, then name) in memory, the first page.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("users")]
    public int UsersLoadAllThenPage() =>
        InMemoryPage(_store.UserActivity(ReportLedger.Tenant, ReportLedger.Period, ReportLedger.Start.UtcTicks, ReportLedger.End.UtcTicks), u => u.User,
            (a, b) => a.Minutes != b.Minutes ? a.Minutes.CompareTo(b.Minutes) : a.Units.CompareTo(b.Units), null, 0).Count;

    [Benchmark, BenchmarkCategory("users")]
    public int UsersByMinutes() => Users(UserSort.Minutes, null, 0);

    /// <summary>"user-012" matches 100 of the 10,000 users (user-01200 … user-01299).</summary>
    [Benchmark, BenchmarkCategory("users")]
    public int UsersSearch() => Users(UserSort.Minutes, "USER-012", 0);

    /// <summary>The last page of the 10,000 users.</summary>
    [Benchmark, BenchmarkCategory("users")]
    public int UsersDeepOffset() => Users(UserSort.Minutes, null, 9_900);

    /// <summary>Last activity is a rollup column: ordered like minutes.</summary>
    [Benchmark, BenchmarkCategory("users")]
    public int UsersByLastActivity() => Users(UserSort.LastActivity, null, 0);

    /// <summary>The costliest database sort: every user's app count (an index range each) before the page is cut.</summary>
    [Benchmark, BenchmarkCategory("users")]
    public int UsersByApps() => Users(UserSort.Apps, null, 0);

    /// <summary>What the sorts by cap and allocation read before the server sorts: every user of the period from the rollups.</summary>
    [Benchmark, BenchmarkCategory("users")]
    public int UsersEveryRow() => Users(UserSort.User, null, 0, int.MaxValue);

    /// <summary>The old apps page: every app from the scan, sorted by units in memory, the first page.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("apps")]
    public int AppsLoadAllThenPage() =>
        InMemoryPage(_store.AppActivity(ReportLedger.Tenant, ReportLedger.Period, ReportLedger.Start.UtcTicks, ReportLedger.End.UtcTicks), a => a.App,
            (a, b) => a.Units.CompareTo(b.Units), null, 0).Count;

    [Benchmark, BenchmarkCategory("apps")]
    public int AppsByUnits() => Apps(AppSort.Units, 0);

    /// <summary>The last page of the 300 apps.</summary>
    [Benchmark, BenchmarkCategory("apps")]
    public int AppsDeepOffset() => Apps(AppSort.Units, 200);

    /// <summary>Every app's user count (an index range each) before the page is cut.</summary>
    [Benchmark, BenchmarkCategory("apps")]
    public int AppsByUsers() => Apps(AppSort.Users, 0);

    [Benchmark, BenchmarkCategory("apps")]
    public int AppsByLastActivity() => Apps(AppSort.LastActivity, 0);

    private int Users(UserSort sort, string? search, int offset, int limit = PageSize) =>
        _store.UsersPageAsync(ReportLedger.Tenant, new PageQuery<UserSort>(ReportLedger.Period, sort, sort != UserSort.User, search, limit, offset), CancellationToken.None).GetAwaiter().GetResult().Rows.Count;

    private int Apps(AppSort sort, int offset) =>
        _store.AppsPageAsync(ReportLedger.Tenant, new PageQuery<AppSort>(ReportLedger.Period, sort, true, null, PageSize, offset), CancellationToken.None).GetAwaiter().GetResult().Rows.Count;

    /// <summary>The server's old paging (descending, ties by name ascending), for the baselines.</summary>
    private static List<T> InMemoryPage<T>(IEnumerable<T> rows, Func<T, string> name, Comparison<T> compare, string? search, int offset)
    {
        var matching = search is null ? rows.ToList() : rows.Where(r => name(r).Contains(search, StringComparison.OrdinalIgnoreCase)).ToList();
        matching.Sort((a, b) => compare(b, a) is var c && c != 0 ? c : string.CompareOrdinal(name(a), name(b)));
        return [.. matching.Skip(offset).Take(PageSize)];
    }
}
