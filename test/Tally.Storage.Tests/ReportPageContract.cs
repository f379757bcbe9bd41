namespace Tally.Storage.Tests;

/// <summary>
/// The users and apps pages read from the rollups must give exactly what the whole-period scans
/// (<see cref="IUsageReports.UserActivity"/>, <see cref="IUsageReports.AppActivity"/>) give once the server filtered,
/// sorted (ties by name ascending, ordinal) and cut them in memory, as it did before the pages moved into the database.
/// The scans' [from, to) is the period's bounds, and every entry is filed under the period its time is in
/// (<see cref="LedgerEntry.Period"/>), as the server files them.
/// </summary>
public abstract partial class LedgerStoreContract
{
    // This ledger's calendar: 2026-03 is [T0, T0 + 2 h), 2026-04 follows. Every entry carries the period its time is in.
    private static readonly (long From, long To) March = (T0.UtcTicks, T0.UtcTicks + 2 * Hour);

    // Names with LIKE's wildcards and escape, mixed case, equal figures (ties), one user with only a denial (no units,
    // no apps, no allotment), one with units only in the next period, and events without decisions (reloads nobody is
    // connected to): one moves a listed user's and app's last activity, one names a user and an app with nothing else
    // in the period, who must not be listed.
    private void AppendPageLedger()
    {
        static LedgerEntry Unit(string id, string user, string app, long ticks, string allotment = "analyzer_time", string period = "2026-03") =>
            new(id, ticks, null, user, "", app, "open-app",
                [new StoredDecision("charged", null, user, app, period, ticks, ticks + 6 * TimeSpan.TicksPerMinute, 0, 6)],
                [new StoredUnit(0, user, "", app, period, ticks, ticks + 6 * TimeSpan.TicksPerMinute, 6, allotment == "professional" ? "assigned" : "time", allotment)],
                period);
        static LedgerEntry Denial(string id, string user, string app, long ticks) =>
            new(id, ticks, null, user, "", app, "open-app", [new StoredDecision("denied", "pool-exhausted", user, app, "2026-03", 0, 0, ticks + 1, 0)], [], "2026-03");
        static LedgerEntry UnheardReload(string id, string user, string app, long ticks) => new(id, ticks, null, user, "", app, "scheduled-reload", [], [], "2026-03");
        var t = March.From;
        Store.Append("acme",
        [
            Unit("1", "ab", "sales", t), Unit("2", "ab", "hr", t + 1), Unit("3", "a%b", "sales", t + 2), Unit("4", "a_b", "Sales_EU", t + 2),
            Unit("5", "Abc", "hr", t + 3, "professional"), Unit("6", "ABD", "50%off", t + 4), Unit("7", "x\\y", "sales", t + 5),
            Denial("8", "zed", "hr", t + 6), Denial("9", "ab", "sales", t + 7), UnheardReload("r1", "scheduler", "nightly", t + 7),
        ]);
        // Later batches: the latest unit's allotment wins, new (user, app) pairs count once, last activity only moves forward.
        Store.Append("acme", [Unit("11", "Abc", "sales", t + 8), Unit("12", "Abc", "hr", t + 9, "analyzer"), Unit("13", "ab", "sales", t + 10)]);
        Store.Append("acme", [UnheardReload("r2", "ab", "Sales_EU", t + 11), Unit("10", "late", "sales", March.To + Hour, period: "2026-04")]);
    }

    private static readonly string?[] Searches = [null, "a", "AB", "%", "_", "\\", "b%", "s_l", "nobody"];
    private static readonly (int Limit, int Offset)[] Windows = [(100, 0), (3, 0), (3, 2), (2, 6), (5, 100)];

    [Fact]
    public async Task UsersPage_EverySortOrderSearchAndWindow_MatchesTheScanSortedInMemory()
    {
        AppendPageLedger();
        var all = Store.UserActivity("acme", "2026-03", March.From, March.To);
        Assert.Equal(7, all.Count);
        Assert.Equal(T0.UtcTicks + 11, all.Single(u => u.User == "ab").LastActivityTicks);
        foreach (var sort in Enum.GetValues<UserSort>())
        {
            Comparison<UserActivity> compare = sort switch
            {
                UserSort.Minutes => (a, b) => a.Minutes != b.Minutes ? a.Minutes.CompareTo(b.Minutes) : a.Units.CompareTo(b.Units),
                UserSort.Units => (a, b) => a.Units.CompareTo(b.Units),
                UserSort.Apps => (a, b) => a.Apps.CompareTo(b.Apps),
                UserSort.LastActivity => (a, b) => Nullable.Compare(a.LastActivityTicks, b.LastActivityTicks),
                UserSort.Denied => (a, b) => a.DeniedEvents.CompareTo(b.DeniedEvents),
                _ => (a, b) => string.CompareOrdinal(a.User, b.User),
            };
            await AssertEveryPageMatches(all, u => u.User, compare, (descending, search, limit, offset) =>
                Store.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", sort, descending, search, limit, offset), CancellationToken.None), sort.ToString());
        }
    }

    [Fact]
    public async Task AppsPage_EverySortOrderSearchAndWindow_MatchesTheScanSortedInMemory()
    {
        AppendPageLedger();
        var all = Store.AppActivity("acme", "2026-03", March.From, March.To);
        Assert.Equal(4, all.Count);
        Assert.Equal(T0.UtcTicks + 11, all.Single(a => a.App == "Sales_EU").LastActivityTicks);
        foreach (var sort in Enum.GetValues<AppSort>())
        {
            Comparison<AppActivity> compare = sort switch
            {
                AppSort.Units => (a, b) => a.Units.CompareTo(b.Units),
                AppSort.Minutes => (a, b) => a.Minutes.CompareTo(b.Minutes),
                AppSort.Users => (a, b) => a.Users.CompareTo(b.Users),
                AppSort.LastActivity => (a, b) => Nullable.Compare(a.LastActivityTicks, b.LastActivityTicks),
                _ => (a, b) => string.CompareOrdinal(a.App, b.App),
            };
            await AssertEveryPageMatches(all, a => a.App, compare, (descending, search, limit, offset) =>
                Store.AppsPageAsync("acme", new PageQuery<AppSort>("2026-03", sort, descending, search, limit, offset), CancellationToken.None), sort.ToString());
        }
    }

    [Fact]
    public async Task UsersPage_WildcardsAreLiteral_CaseIgnored_OffsetPastEndKeepsTotal()
    {
        AppendPageLedger();
        async Task<(long Total, string Names)> Users(string? search, int offset = 0)
        {
            var page = await Store.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", UserSort.User, false, search, 100, offset),
                CancellationToken.None);
            return (page.Total, string.Join(" ", page.Rows.Select(r => r.User)));
        }
        Assert.Equal((1, "a%b"), await Users("%"));
        Assert.Equal((1, "a_b"), await Users("_"));
        Assert.Equal((1, "x\\y"), await Users("\\"));
        Assert.Equal((3, "ABD Abc ab"), await Users("aB"));
        Assert.Equal((7, ""), await Users(null, offset: 7));
        Assert.Equal((0, ""), await Users("nobody"));
        var abc = (await Store.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", UserSort.User, false, "abc", 1, 0),
            CancellationToken.None)).Rows.Single();
        Assert.Equal(new UserActivity("Abc", 3, 18, 0, 2, T0.UtcTicks + 9, "analyzer"), abc);
    }

    [Fact]
    public async Task LastActivity_KeptByTheCallerForALaterAppend_IsRecordedThenAndMarksTheLedgerThroughIt()
    {
        var t = March.From;
        static LedgerEntry Select(string id, string user, string app, long ticks) =>
            new(id, ticks, null, user, "", app, "select", [new StoredDecision("charged", null, user, app, "2026-03", ticks, ticks + 1, 0, 6)],
                [new StoredUnit(0, user, "", app, "2026-03", ticks, ticks + 1, 6, "time", "analyzer_time")], "2026-03");
        async Task<(long? User, long? App)> LastActivity(string app)
        {
            var user = await Store.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", UserSort.User, false, "ab", 10, 0), CancellationToken.None);
            var apps = await Store.AppsPageAsync("acme", new PageQuery<AppSort>("2026-03", AppSort.App, false, app, 10, 0), CancellationToken.None);
            return (user.Rows.Single().LastActivityTicks, apps.Rows.Single().LastActivityTicks);
        }
        Assert.Equal(0, Store.ActivityRecordedThrough("acme"));
        Store.Append("acme", [Select("1", "ab", "sales", t)]);
        var first = Store.Events("acme").Last().Seq;
        Assert.Equal(first, Store.ActivityRecordedThrough("acme"));

        // Kept by the caller: the units count at once, the last activity and the mark stay where they were.
        var later = Select("2", "ab", "hr", t + 5);
        Store.Append("acme", [later], activity: null);
        Assert.Equal(first, Store.ActivityRecordedThrough("acme"));
        Assert.Equal((t, null), await LastActivity("hr"));
        Assert.Equal(2, (await Store.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", UserSort.User, false, "ab", 10, 0), CancellationToken.None)).Rows.Single().Units);

        // Recorded by an append of no events: through the tenant's newest event, and an older mark never moves it back.
        Store.Append("acme", [], ActivityMarks.Of([later]));
        Assert.Equal(Store.Events("acme").Last().Seq, Store.ActivityRecordedThrough("acme"));
        Assert.Equal((t + 5, t + 5), await LastActivity("hr"));
        Store.Append("acme", [], new ActivityMarks([new ActivityMark("2026-03", "ab", t + 1)], [new ActivityMark("2026-03", "hr", t + 1)]));
        Assert.Equal((t + 5, t + 5), await LastActivity("hr"));
        Assert.Equal(0, Store.ActivityRecordedThrough("other"));
    }

    /// <summary>Every order, search and window of one sort: the database's page against <see cref="InMemory"/> on the scan's rows.</summary>
    private static async Task AssertEveryPageMatches<T>(IReadOnlyList<T> all, Func<T, string> name, Comparison<T> compare,
        Func<bool, string?, int, int, Task<ReportPage<T>>> page, string sort)
    {
        foreach (var descending in new[] { false, true })
        foreach (var search in Searches)
        foreach (var (limit, offset) in Windows)
        {
            var matching = InMemory(all, name, compare, descending, search);
            var expected = matching.Skip(offset).Take(limit).ToList();
            var got = await page(descending, search, limit, offset);
            var what = $"{sort} {(descending ? "desc" : "asc")} search={search} limit={limit} offset={offset}";
            Assert.True(matching.Count == got.Total, $"{what}: total {got.Total}, expected {matching.Count}");
            Assert.True(expected.SequenceEqual(got.Rows), $"{what}: got {string.Join(", ", got.Rows.Select(name))}, expected {string.Join(", ", expected.Select(name))}");
        }
    }

    /// <summary>What the server did before the pages moved into the database (ReportEndpoints.Paging.Apply).</summary>
    private static List<T> InMemory<T>(IEnumerable<T> rows, Func<T, string> name, Comparison<T> compare, bool descending, string? search)
    {
        var matching = search is null ? rows.ToList() : rows.Where(r => name(r).Contains(search, StringComparison.OrdinalIgnoreCase)).ToList();
        Comparison<T> ordered = descending ? (a, b) => compare(b, a) : compare;
        matching.Sort((a, b) => ordered(a, b) is var c && c != 0 ? c : string.CompareOrdinal(name(a), name(b)));
        return matching;
    }
}
