namespace Tally.Storage.Tests;

/// <summary>
/// R14 on both stores: a reload-started unit keeps the engagement it is judged by (v13), the waste query counts the
/// idle ones for a quiet time exactly as <c>IdleReload.IsIdle</c>, and v13 fills that engagement in for older units.
/// </summary>
public abstract partial class LedgerStoreContract
{
    private const long Quarter = 15 * TimeSpan.TicksPerMinute;

    /// <summary>An event of <paramref name="action"/> with no decisions, and the units it started (a scheduled reload's).</summary>
    private static LedgerEntry Act(string action, string user, string device, string app, long ticks, params StoredUnit[] units) =>
        new(null, ticks, null, user, device, app, action, [], units, "2026-03");

    /// <summary>A 6-minute pool unit of <paramref name="user"/> on <paramref name="app"/> started at <paramref name="ticks"/>.</summary>
    private static StoredUnit Unit(string user, string device, string app, long ticks, long? engaged, string period = "2026-03") =>
        new(0, user, device, app, period, ticks, ticks + 6 * TimeSpan.TicksPerMinute, 6, "time", "analyzer_time", EngagedTicks: engaged);

    [Fact]
    public async Task ReloadWaste_StampedUnits_CountsIdleOnesByUserAppAndHour()
    {
        var t = T0.UtcTicks;
        var quiet = 2 * Quarter;
        Store.Append("acme",
        [
            // ann engages at 09:00 and 10:30 on pc/sales; bob never engages. The reload units carry what the meter stamped.
            Act("open-app", "ann", "pc", "sales", t, Unit("ann", "pc", "sales", t, null)),
            Act("scheduled-reload", "", "", "sales", t + 4 * Quarter, Unit("ann", "pc", "sales", t + 4 * Quarter, t), Unit("bob", "", "sales", t + 4 * Quarter, 0)),
            // Engaged one tick less than Q before: not idle.
            Act("scheduled-reload", "", "", "hr", t + 4 * Quarter + 1, Unit("ann", "pc", "hr", t + 4 * Quarter + 1, t + 4 * Quarter + 1 - quiet + 1)),
            // Engaged exactly Q before (10:30 → 11:00): idle.
            Act("scheduled-reload", "", "", "sales", t + 8 * Quarter, Unit("ann", "pc", "sales", t + 8 * Quarter, t + 6 * Quarter)),
            // Another period's reload unit stays out of March.
            Act("scheduled-reload", "", "", "sales", t + 8 * Quarter + 1, Unit("cy", "", "sales", t + 8 * Quarter + 1, 0, "2026-04")),
        ]);
        Store.CreateTenant(new TenantRecord("globex", "Globex", T0));
        Store.Append("globex", [Act("scheduled-reload", "", "", "sales", t, Unit("ann", "", "sales", t, 0))]);

        var waste = await Store.ReloadWasteAsync("acme", "2026-03", quiet, CancellationToken.None);

        Assert.Equal(new ReloadUnitFigures(4, 24, 3, 18), waste.Total);
        Assert.Equal([new ReloadWasteUser("ann", new(3, 18, 2, 12)), new ReloadWasteUser("bob", new(1, 6, 1, 6))], waste.Users);
        Assert.Equal([new ReloadWasteApp("hr", new(1, 6, 0, 0), 0), new ReloadWasteApp("sales", new(3, 18, 3, 18), 2)], waste.Apps);
        Assert.Equal([new ReloadWasteHour(t + 4 * Quarter, new(3, 18, 2, 12)), new ReloadWasteHour(t + 8 * Quarter, new(1, 6, 1, 6))], waste.Hours);
        // The quiet time is the caller's: at 1 minute every unit is idle, at 2 hours only bob's (never engaged).
        Assert.Equal(new ReloadUnitFigures(4, 24, 4, 24), (await Store.ReloadWasteAsync("acme", "2026-03", TimeSpan.TicksPerMinute, CancellationToken.None)).Total);
        Assert.Equal(new ReloadUnitFigures(4, 24, 1, 6), (await Store.ReloadWasteAsync("acme", "2026-03", 8 * Quarter, CancellationToken.None)).Total);
        // The alert's figure alone is the same total, for each quiet time and for a period without reloads.
        Assert.Equal(18, await Store.IdleReloadMinutesAsync("acme", "2026-03", quiet, CancellationToken.None));
        Assert.Equal(6, await Store.IdleReloadMinutesAsync("acme", "2026-03", 8 * Quarter, CancellationToken.None));
        Assert.Equal(0, await Store.IdleReloadMinutesAsync("acme", "2026-05", quiet, CancellationToken.None));
        var none = await Store.ReloadWasteAsync("acme", "2026-05", quiet, CancellationToken.None);
        Assert.Equal((default(ReloadUnitFigures), 0, 0, 0), (none.Total, none.Users.Count, none.Apps.Count, none.Hours.Count));
        // The stamp reads back with its unit; a unit no reload started has none.
        Assert.Equal([null, t, 0L, t + 4 * Quarter + 1 - quiet + 1, t + 6 * Quarter, 0L],
            Store.Units("acme", new UnitQuery(10)).Units.OrderBy(u => u.Id).Select(u => u.EngagedTicks));
    }

    [Fact]
    public void Initialize_V12LedgerWithReloadUnits_BackfillsTheLaterEngagementOnDeviceOrApp()
    {
        var t = T0.UtcTicks;
        using (var before = OpenStore())
        {
            before.Initialize();
            before.CreateTenant(new TenantRecord("acme", "Acme", T0));
            before.CreateTenant(new TenantRecord("globex", "Globex", T0));
            before.Append("acme",
            [
                Act("open-app", "ann", "pc", "sales", t, Unit("ann", "pc", "sales", t, null)),
                Act("heartbeat", "ann", "pc", "", t + 2 * Quarter),
                Act("select", "ann", "phone", "hr", t + 3 * Quarter),
                // 1: ann's pc/sales unit at 10:00: presence, and another device and app, do not count: 09:00. bob: none, 0.
                Act("scheduled-reload", "", "", "sales", t + 4 * Quarter, Unit("ann", "pc", "sales", t + 4 * Quarter, null), Unit("bob", "", "sales", t + 4 * Quarter, null)),
                Act("open-app", "ann", "tablet", "sales", t + 5 * Quarter),
                Act("open-app", "ann", "phone", "crm", t + 5 * Quarter + 1),
                // 2: the same app on another device (10:15) is later than the device's own engagement (09:00): 10:15.
                // 3: ann's phone/hr unit: the same device on another app (10:15 + 1 tick) is later than hr's own (09:45).
                Act("scheduled-reload", "", "", "sales", t + 6 * Quarter, Unit("ann", "pc", "sales", t + 6 * Quarter, null)),
                Act("scheduled-reload", "", "", "hr", t + 6 * Quarter, Unit("ann", "phone", "hr", t + 6 * Quarter, null)),
                // 4: an engagement at the reload's own instant is at or before it, whatever its place in the ledger.
                Act("scheduled-reload", "", "", "sales", t + 8 * Quarter, Unit("cy", "", "sales", t + 8 * Quarter, null)),
                Act("navigate", "cy", "", "sales", t + 8 * Quarter),
            ]);
            // Another tenant's later engagement of a user of the same name is not acme's.
            before.Append("globex", [Act("select", "ann", "pc", "sales", t + 4 * Quarter - 1)]);
        }
        // Back to v12: v16's table (shared dashboard sessions), v15's tables (the fence, and on PostgreSQL the cluster membership), v14's tables (offline reports) and v13's column go.
        ExecuteSql("DROP TABLE dashboard_sessions; DELETE FROM schema_version WHERE version = 16;");
        ExecuteSql("DROP TABLE tenant_owners; DROP TABLE IF EXISTS orleans_nodes; DROP TABLE IF EXISTS orleans_clusters; DROP TABLE IF EXISTS orleansquery; DELETE FROM schema_version WHERE version = 15;");
        ExecuteSql("DROP TABLE offline_grants; DROP TABLE offline_reports; DELETE FROM schema_version WHERE version = 14;");
        ExecuteSql("DROP INDEX units_tenant_period_reload; ALTER TABLE units DROP COLUMN engaged_ticks; DELETE FROM schema_version WHERE version = 13;");
        using var store = OpenStore();
        Assert.Equal(12, store.SchemaVersion());

        store.Initialize();

        Assert.Equal(CurrentSchemaVersion, store.SchemaVersion());
        Assert.Equal(["1|null", $"2|{t}", "3|0", $"4|{t + 5 * Quarter}", $"5|{t + 5 * Quarter + 1}", $"6|{t + 8 * Quarter}"],
            QuerySql("SELECT id, engaged_ticks FROM units ORDER BY id;"));
    }
}
