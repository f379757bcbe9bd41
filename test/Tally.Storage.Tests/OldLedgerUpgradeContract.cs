namespace Tally.Storage.Tests;

/// <summary>
/// Upgrades in place: a ledger written by the code before the storage rewrite (<c>Fixtures/{dialect}-v6.sql</c>, its
/// schema and a row in every table) opens with today's store, and every row reads back through the contract.
/// </summary>
public abstract partial class LedgerStoreContract
{
    private const long Hour = TimeSpan.TicksPerHour;
    private const long Minute = TimeSpan.TicksPerMinute;

    private string OldLedger() => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", $"{Dialect}-v6.sql"));

    [Fact]
    public async Task Initialize_LedgerOfTheOldSchema_EveryRowReadsBack_AndWritesContinue()
    {
        using var store = await UpgradeOldLedgerAsync("", fromVersion: 6);
        // Sequences and autoincrements go on after the old rows: new events, units and history never reuse a number.
        store.Append("acme", [Entry("e4", "cy", T0.UtcTicks + 3 * Hour)]);
        Assert.Equal([1L, 2, 3, 4], store.Events("acme").Select(e => e.Seq));
        Assert.Equal(3, store.Units("acme", new UnitQuery(10)).Units[^1].Id);
        Assert.Equal(new PeriodUsage("2026-03", 3, 18, 1, 4), store.PeriodUsage("acme", "2026-03"));
        Assert.Equal(2, store.AddAlertHistory(new AlertHistoryRecord(0, "acme", "r1", "threshold-percent", "2026-03", "", T0, null, null, "no-channel", "m", null)));
    }

    [Fact]
    public async Task Initialize_OldLedgerAtVersion3_FillsTheRollupsFromTheRows()
    {
        // A ledger from before the rollups (v4): they, and every later step, are built from the rows on upgrade.
        using var store = await UpgradeOldLedgerAsync(
            "DROP TABLE usage_users; DROP TABLE usage_periods; DROP TABLE usage_hours; DROP INDEX units_tenant_end; DROP TABLE write_checks; DELETE FROM schema_version WHERE version >= 4;",
            fromVersion: 3);
    }

    /// <summary>Writes the old ledger (then <paramref name="thenSql"/>), opens it with today's store and checks every row.</summary>
    private async Task<ILedgerStore> UpgradeOldLedgerAsync(string thenSql, int fromVersion)
    {
        ExecuteSql(OldLedger() + thenSql);
        var store = OpenStore();
        try
        {
            Assert.Equal(fromVersion, store.SchemaVersion());

            store.Initialize();

            Assert.Equal(CurrentSchemaVersion, store.SchemaVersion());
            Assert.Null(store.CheckWritable());
            await AssertOldRowsAsync(store);
            // v8: the two ordinary decisions moved into their event rows; the denial stays a decisions row.
            Assert.Equal(["1|charged|6", "2|charged|6", "3|null|null"], QuerySql("SELECT seq, decision_kind, decision_minutes FROM events ORDER BY seq;"));
            Assert.Equal(["3|0|denied"], QuerySql("SELECT event_seq, idx, kind FROM decisions ORDER BY event_seq, idx;"));
            // v9: the backfilled last activity covers every old event.
            Assert.Equal(3, store.ActivityRecordedThrough("acme"));
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static async Task AssertOldRowsAsync(ILedgerStore store)
    {
        var t0 = T0.UtcTicks;
        var created = T0.AddHours(-1);
        Assert.Equal([new TenantRecord("acme", "Acme Corp", created)], store.Tenants());
        var key = Assert.Single(store.ApiKeys("acme"));
        Assert.Equal(("k1", "acme", ApiRole.Ingest, created, (DateTimeOffset?)null), (key.Id, key.Tenant, key.Role, key.Created, key.Revoked));
        Assert.Equal([1, 2], key.Hash);
        var boot = store.FindApiKey([3, 4]);
        Assert.Equal(("boot", (string?)null, ApiRole.Bootstrap, (DateTimeOffset?)T0), (boot?.Id, boot?.Tenant, boot?.Role, boot?.Revoked));
        Assert.Equal("boot", Assert.Single(store.ApiKeys(null)).Id);
        Assert.False(store.HasActiveKey(ApiRole.Bootstrap));
        Assert.Equal(new LicenseRecord("acme", "LICENSE-KEY", created), store.GetLicense("acme"));
        Assert.Equal("""{"users":[]}""", store.GetPlan("acme"));
        Assert.Equal([new TermsChange(0, "LICENSE-KEY", """{"users":[]}""", created)], store.TermsChanges("acme"));

        Assert.Equal(
            [
                new StoredEvent(1, "e1", t0, "2026-03-01T09:00:00Z", "ann", "laptop", "sales", "open-app"),
                new StoredEvent(2, "e2", t0 + Hour, null, "bob", "", "sales", "open-app"),
                new StoredEvent(3, null, t0 + 2 * Hour, null, "bob", "", "hr", "open-app"),
            ],
            store.Events("acme").Take(3));
        Assert.Equal(["e1", "e2"], store.KnownEventIds("acme", ["e1", "e2", "e9"]).Order());
        Assert.Equal(t0, store.FirstEventTicks("acme"));

        Assert.Equal(new PeriodUsage("2026-03", 2, 12, 1, 3), store.PeriodUsage("acme", "2026-03"));
        Assert.Equal([new UserUsage("ann", 1, 6, 0), new UserUsage("bob", 1, 6, 1)], store.UserUsage("acme", "2026-03"));
        Assert.Equal(
            [
                new StoredUnit(1, "ann", "laptop", "sales", "2026-03", t0, t0 + 6 * Minute, 6, "time", "analyzer_time"),
                new StoredUnit(2, "bob", "", "sales", "2026-03", t0 + Hour, t0 + Hour + 6 * Minute, 6, "time", "analyzer_time"),
            ],
            store.Units("acme", new UnitQuery(2)).Units.Take(2));
        Assert.Equal([new HourlyMinutes(t0, 6), new HourlyMinutes(t0 + Hour, 6)], store.HourlyPoolMinutes("acme", t0, t0 + 2 * Hour));
        Assert.Equal(
            [new UserHourUsage(t0, "ann", 1, 6, 0), new UserHourUsage(t0 + Hour, "bob", 1, 6, 0), new UserHourUsage(t0 + 2 * Hour, "bob", 0, 0, 1)],
            await store.UserHoursAsync("acme", t0, t0 + 3 * Hour, CancellationToken.None));
        Assert.Equal(
            [new UserActivity("ann", 1, 6, 0, 1, t0, "analyzer_time"), new UserActivity("bob", 1, 6, 1, 1, t0 + 2 * Hour, "analyzer_time")],
            store.UserActivity("acme", "2026-03", t0, t0 + 3 * Hour).OrderBy(u => u.User, StringComparer.Ordinal));
        Assert.Equal([new AppActivity("sales", 2, 12, 2, t0 + Hour)], store.AppActivity("acme", "2026-03", t0, t0 + 3 * Hour));
        // The v9 page rollups are filled from the old rows: the pages read what the scans read.
        Assert.Equal(store.UserActivity("acme", "2026-03", t0, t0 + 3 * Hour).OrderBy(u => u.User, StringComparer.Ordinal),
            (await store.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", UserSort.User, false, null, 10, 0), CancellationToken.None)).Rows);
        Assert.Equal(store.AppActivity("acme", "2026-03", t0, t0 + 3 * Hour),
            (await store.AppsPageAsync("acme", new PageQuery<AppSort>("2026-03", AppSort.App, false, null, 10, 0), CancellationToken.None)).Rows);
        Assert.Equal([new UserDenials("bob", "pool-exhausted", 1)], await store.DenialsAsync("acme", "2026-03", CancellationToken.None));

        Assert.Equal([new AlertChannelRecord("ch1", "acme", "webhook", "ops", "https://example.test/hook", "s3cret", T0)], store.AlertChannels("acme"));
        var rule = Assert.Single(store.AlertRules("acme"));
        Assert.Equal(("r1", "half", "threshold-percent", (double?)50.5, "ch1", T0), (rule.Id, rule.Name, rule.Kind, rule.Value, Assert.Single(rule.ChannelIds), rule.Created));
        Assert.False(store.ClaimAlert(new AlertClaim("acme", "r1", "2026-03", "", T0.AddDays(1))));
        var history = Assert.Single(store.AlertHistory("acme", 0, 10));
        Assert.Equal(new AlertHistoryRecord(1, "acme", "r1", "threshold-percent", "2026-03", "", T0.AddHours(1), "ch1", "webhook", "sent", "50 % used", null), history);
    }
}
