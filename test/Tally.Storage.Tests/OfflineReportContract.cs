namespace Tally.Storage.Tests;

/// <summary>
/// Offline reports (issue 18, schema v14) on both stores: stored whole or not at all, kept once per (tenant, id), read
/// back by period newest first, each grant joined to the server's own decision on the same event id in the same tenant.
/// </summary>
public abstract partial class LedgerStoreContract
{
    private static OfflineGrantRecord Grant(string eventId, string user = "ann", int minutes = 6, string? device = "pc") =>
        new(eventId, user, device, "sales", "open-app", T0.AddMinutes(1), minutes);

    private static OfflineReportRecord Report(string id, DateTimeOffset received, string period = "2026-03", string tenant = "acme", params OfflineGrantRecord[] grants) =>
        new(tenant, id, "client-1", "fail-open", 60, T0, T0.AddHours(1), received, period, 2, 3, grants);

    [Fact]
    public async Task OfflineReport_RoundTrip_DuplicateKeptOnce_NewestFirst_PeriodFiltered()
    {
        var first = Report("r1", T0.AddHours(2), grants: [Grant("g1", minutes: 6), Grant("g2", "bob", 0, device: null)]);
        Assert.Equal(new OfflineReportAdded(false, 2, 6), Store.AddOfflineReport(first));
        // The same id again, with other figures: nothing changes, and the answer has the stored figures.
        Assert.Equal(new OfflineReportAdded(true, 2, 6), Store.AddOfflineReport(Report("r1", T0.AddHours(5), grants: [Grant("g9", minutes: 30)])));
        Assert.Equal(new OfflineReportAdded(false, 0, 0), Store.AddOfflineReport(Report("r2", T0.AddHours(3))));
        Assert.Equal(new OfflineReportAdded(false, 1, 6), Store.AddOfflineReport(Report("r3", T0.AddHours(4), "2026-04", grants: [Grant("g3")])));

        var march = await Store.OfflineReportsAsync("acme", "2026-03", CancellationToken.None);
        Assert.Equal(["r2", "r1"], march.Select(r => r.Report.Id));
        var r1 = march[1];
        Assert.Equal(first with { Grants = [] }, r1.Report with { Grants = [] });
        Assert.Equal(first.Grants, r1.Report.Grants);
        Assert.Equal([new StoredOfflineGrant(first.Grants[0], null, null), new StoredOfflineGrant(first.Grants[1], null, null)], r1.Grants);
        Assert.Empty(march[0].Grants);
        Assert.Equal(["r3"], (await Store.OfflineReportsAsync("acme", "2026-04", CancellationToken.None)).Select(r => r.Report.Id));
        Assert.Empty(await Store.OfflineReportsAsync("acme", "2026-05", CancellationToken.None));
        Assert.Equal(["3"], QuerySql("SELECT COUNT(*) FROM offline_grants;"));
    }

    [Fact]
    public async Task OfflineReport_AGrantThatCannotBeStored_StoresNothing()
    {
        // A grant without a user breaks the NOT NULL column after the report row is in: the transaction takes both back.
        var broken = Report("r1", T0, grants: [Grant("g1"), Grant("g2") with { User = null! }]);
        Assert.ThrowsAny<Exception>(() => Store.AddOfflineReport(broken));
        Assert.Empty(await Store.OfflineReportsAsync("acme", "2026-03", CancellationToken.None));
        Assert.Equal(["0|0"], QuerySql("SELECT (SELECT COUNT(*) FROM offline_reports), (SELECT COUNT(*) FROM offline_grants);"));
        // The id is still free.
        Assert.False(Store.AddOfflineReport(Report("r1", T0, grants: [Grant("g1")])).Duplicate);
    }

    [Fact]
    public async Task OfflineReport_Grants_CarryTheServersDecisionOnTheSameEventIdOfTheSameTenantOnly()
    {
        var t = T0.UtcTicks;
        var six = TimeSpan.TicksPerMinute * 6;
        Store.Append("acme",
        [
            Entry("charged", "ann", t),
            Entry("denied", "bob", t + 1, "denied"),
            // A reload's several decisions: charged when any key was charged.
            new LedgerEntry("reload", t + 2, null, "ann", "", "sales", "reload",
                [new StoredDecision("covered", null, "ann", "sales", "2026-03", t, t + six, 0, 0), new StoredDecision("charged", null, "cy", "sales", "2026-03", t, t + six, 0, 6)],
                [], "2026-03"),
        ]);
        Store.CreateTenant(new TenantRecord("globex", "Globex", T0));
        Store.Append("globex", [Entry("theirs", "dan", t, "denied")]);
        Store.AddOfflineReport(Report("r1", T0, grants: [Grant("charged"), Grant("denied", "bob"), Grant("reload"), Grant("theirs"), Grant("missing")]));
        // The same report id in another tenant is another report.
        Assert.False(Store.AddOfflineReport(Report("r1", T0, tenant: "globex", grants: [Grant("theirs", "dan"), Grant("charged")])).Duplicate);

        var acme = Assert.Single(await Store.OfflineReportsAsync("acme", "2026-03", CancellationToken.None));
        Assert.Equal(
        [
            ("charged", "charged", null), ("denied", "denied", "pool-exhausted"), ("reload", "charged", null), ("theirs", null, null), ("missing", null, null),
        ], acme.Grants.Select(g => (g.Grant.EventId, g.ServerDecision, g.ServerReason)));
        var globex = Assert.Single(await Store.OfflineReportsAsync("globex", "2026-03", CancellationToken.None));
        Assert.Equal([("theirs", "denied"), ("charged", null)], globex.Grants.Select(g => (g.Grant.EventId, g.ServerDecision)));
        Assert.Equal(["dan", "ann"], globex.Report.Grants.Select(g => g.User));
    }
}
