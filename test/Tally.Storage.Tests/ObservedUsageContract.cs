namespace Tally.Storage.Tests;

/// <summary>
/// Observed usage (rule R13) in the ledger: an imported record is kept as reported, once per (source, record id), and
/// counts in every report exactly as Tally's own units do, in the period of its end.
/// </summary>
public abstract partial class LedgerStoreContract
{
    private static ObservedRecordRow Observed(string id, string user, long endTicks, long minutes, long units, string usage = "time") =>
        new(id, user, "app-1", "session-" + id, endTicks, minutes * Minute, minutes, units, usage, usage == "time" ? "analyzer_time-id" : "professional");

    [Fact]
    public async Task Observed_KeptAsReported_CountsInEveryReportLikeUnits_AndOncePerSourceAndId()
    {
        var end = T0.UtcTicks + 2 * Hour;
        var records = new[] { Observed("r1", "ann", end, 18, 3), Observed("r2", "bob", end + Minute, 6, 1), Observed("r3", "cy", end, 7, 0, "assigned") };
        Store.Append("acme", [.. records.Select(r => ObservedEntries.From("cloud", r, "2026-03"))]);

        // Kept as reported, found by source and id only.
        var found = Store.ObservedRecords("acme", "cloud", ["r1", "r2", "r3", "r4"]);
        Assert.Equal(records, found.Values.OrderBy(r => r.RecordId, StringComparer.Ordinal));
        Assert.Empty(Store.ObservedRecords("acme", "other-source", ["r1"]));
        Assert.Empty(Store.ObservedRecords("other-tenant", "cloud", ["r1"]));

        // Counted like Tally's own units: 3 + 1 pool units of 24 minutes, a seat holder's record a unit of 7 seat minutes.
        Assert.Equal(new PeriodUsage("2026-03", 4, 24, 0, 3), Store.PeriodUsage("acme", "2026-03"));
        Assert.Equal([new UserUsage("ann", 3, 18, 0), new UserUsage("cy", 1, 7, 0), new UserUsage("bob", 1, 6, 0)], Store.UserUsage("acme", "2026-03"));
        var units = Store.Units("acme", new UnitQuery(10)).Units;
        Assert.Equal([6, 6, 6, 6, 7], units.Select(u => u.Minutes).Order());
        Assert.All(units.Where(u => u.User == "ann"), u => Assert.Equal(("", "session-r1", "analyzer_time"), (u.Device, u.Session, u.Allotment)));
        Assert.Equal(end, units.Where(u => u.User == "ann").Max(u => u.EndTicks));
        Assert.Equal(end - 18 * Minute, units.Where(u => u.User == "ann").Min(u => u.StartTicks));
        var page = await Store.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", UserSort.User, false, null, 10, 0), CancellationToken.None);
        Assert.Equal(["ann 3 18 1 analyzer_time", "bob 1 6 1 analyzer_time", "cy 1 7 1 professional"],
            page.Rows.Select(u => $"{u.User} {u.Units} {u.Minutes} {u.Apps} {u.Allotment}"));

        // The same record again fails the whole append, so an import that repeats one changes nothing.
        Assert.ThrowsAny<Exception>(() => Store.Append("acme", [ObservedEntries.From("cloud", Observed("r9", "dee", end, 6, 1), "2026-03"),
            ObservedEntries.From("cloud", records[0], "2026-03")]));
        Assert.Empty(Store.ObservedRecords("acme", "cloud", ["r9"]));
        Assert.Equal(new PeriodUsage("2026-03", 4, 24, 0, 3), Store.PeriodUsage("acme", "2026-03"));
        // Another source may use the same id.
        Store.Append("acme", [ObservedEntries.From("site", records[0], "2026-03")]);
        Assert.Single(Store.ObservedRecords("acme", "site", ["r1"]));

        // Replayed as observed events, which the meter skips.
        Assert.All(Store.Events("acme"), e => Assert.Equal(LedgerEntry.ObservedAction, e.Action));
    }
}

public abstract partial class LedgerStoreContract
{
    [Fact]
    public void Sources_AddListUpdateRemove_AndPullsAddUpWithAWatermarkThatOnlyMovesForward()
    {
        var source = new SourceRecord("acme", "cloud", "qlik-cloud", "https://acme.eu.qlikcloud.com", """{"pageSize":200}""", [1, 2, 3], 300, T0, true);
        Assert.Equal(SourceAdded.Added, Store.AddSource(source, 10));
        Assert.Equal(SourceAdded.Exists, Store.AddSource(source with { Url = "https://other" }, 10));
        Assert.Equal(SourceAdded.Added, Store.AddSource(source with { Tenant = "zeta", Secret = null }, 10));
        Assert.Equal([("acme", "cloud"), ("zeta", "cloud")], Store.Sources(null).Select(s => (s.Source.Tenant, s.Source.Id)));
        var (stored, status) = Assert.Single(Store.Sources("acme"));
        Assert.Equal(source with { Secret = null }, stored with { Secret = null });
        Assert.Equal([1, 2, 3], stored.Secret);
        Assert.Equal(new SourceStatus(0, null, null, null, null, 0, 0, 0, null), status);

        Store.RecordPull("acme", "cloud", new SourcePull(T0.AddMinutes(5), true, null, null, T0.UtcTicks + 100, 10, 2, 1, """{"pool":1}""", false));
        Store.RecordPull("acme", "cloud", new SourcePull(T0.AddMinutes(10), false, "Unreachable", "no answer", 0, 0, 0, 0, null, false));
        Assert.Equal(new SourceStatus(T0.UtcTicks + 100, T0.AddMinutes(10), T0.AddMinutes(5), "Unreachable", "no answer", 10, 2, 1, """{"pool":1}"""),
            Store.GetSource("acme", "cloud")!.Value.Status);
        Store.RecordPull("acme", "cloud", new SourcePull(T0.AddMinutes(15), false, "Unauthorized", "refused", 0, 0, 0, 0, null, Stop: true));
        Assert.False(Store.GetSource("acme", "cloud")!.Value.Source.Enabled);
        Assert.True(Store.GetSource("zeta", "cloud")!.Value.Source.Enabled);
        Store.RecordPull("acme", "cloud", new SourcePull(T0.AddMinutes(20), false, "Unreachable", "no answer", 0, 0, 0, 0, null, false));
        Assert.False(Store.GetSource("acme", "cloud")!.Value.Source.Enabled);
        Store.RecordPull("acme", "cloud", new SourcePull(T0.AddMinutes(25), true, null, null, 0, 0, 0, 0, null, false));
        Assert.True(Store.GetSource("acme", "cloud")!.Value.Source.Enabled);
        Store.RecordPull("acme", "cloud", new SourcePull(T0.AddMinutes(30), false, "Forbidden", "no", 0, 0, 0, 0, null, Stop: true));

        Assert.True(Store.UpdateSource(stored with { Url = "https://acme.us.qlikcloud.com", Enabled = true, Secret = null }));
        Assert.Equal(("https://acme.us.qlikcloud.com", true, (byte[]?)null), Store.GetSource("acme", "cloud") is { } updated
            ? (updated.Source.Url, updated.Source.Enabled, updated.Source.Secret) : default);
        Assert.False(Store.UpdateSource(stored with { Id = "nope" }));
        Assert.True(Store.RemoveSource("acme", "cloud"));
        Assert.False(Store.RemoveSource("acme", "cloud"));
        Assert.Null(Store.GetSource("acme", "cloud"));
    }

    [Fact]
    public void Sources_AddedRacingPastTheLimit_StopAtIt_AndADuplicateIdIsNeverFull()
    {
        // Many threads at once, so a count taken before the insert would go stale; the store must still stop at 3. (The
        // store is opened, and migrated, before they start.)
        Assert.Empty(Store.Sources("acme"));
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<SourceAdded>();
        Parallel.For(0, 24, new ParallelOptions { MaxDegreeOfParallelism = 12 }, i =>
            outcomes.Add(Store.AddSource(new SourceRecord("acme", $"s{i % 12}", "qlik-cloud", "https://acme.eu.qlikcloud.com", "{}", null, 300, T0, true), 3)));
        Assert.Equal(3, outcomes.Count(o => o == SourceAdded.Added));
        Assert.Equal(3, Store.Sources("acme").Count);
        var held = Store.Sources("acme")[0].Source;
        Assert.Equal(SourceAdded.Exists, Store.AddSource(held, 3));
        Assert.True(Store.RemoveSource("acme", held.Id));
        Assert.Equal(SourceAdded.Added, Store.AddSource(held with { Id = "again" }, 3));
        Assert.Equal(SourceAdded.Full, Store.AddSource(held with { Id = "over" }, 3));
    }

    [Fact]
    public void SourceSeats_ReplacedByEachPullThatReadThem_KeptByOneThatDidNot()
    {
        Store.AddSource(new SourceRecord("acme", "cloud", "qlik-cloud", "https://acme.eu.qlikcloud.com", "{}", null, 300, T0, true), 10);
        Store.AddSource(new SourceRecord("acme", "site", "qseow", "https://qrs.acme.local:4242", "{}", null, 300, T0, true), 10);
        Assert.Empty(Store.SourceSeats("acme"));
        Store.RecordPull("acme", "site", new SourcePull(T0, true, null, null, 0, 0, 0, 0, null, false, SeatsJson: """[{"user":"a"}]"""));
        Store.RecordPull("acme", "site", new SourcePull(T0.AddMinutes(5), true, null, null, 0, 0, 0, 0, null, false, SeatsJson: """[{"user":"b"}]"""));
        Store.RecordPull("acme", "site", new SourcePull(T0.AddMinutes(10), false, "Unreachable", "no answer", 0, 0, 0, 0, null, false));
        Store.RecordPull("acme", "cloud", new SourcePull(T0, true, null, null, 0, 0, 0, 0, null, false, SeatsJson: "[]"));
        Assert.Equal([("cloud", "[]"), ("site", """[{"user":"b"}]""")], Store.SourceSeats("acme"));
        Assert.Empty(Store.SourceSeats("zeta"));
    }
}
