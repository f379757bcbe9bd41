namespace Tally.Storage.Tests;

/// <summary>
/// The fence (v15): a writer claims the tenant, each claim moves the tenant to a new epoch, and a commit made under an
/// older epoch is refused in its own transaction, leaving nothing of it in the ledger.
/// </summary>
public abstract partial class LedgerStoreContract
{
    [Fact]
    public void ClaimTenant_EachNewOwner_GetsTheNextEpoch()
    {
        Assert.Equal(new TenantClaim("acme", "node-a", 1), Store.ClaimTenant("acme", "node-a", T0));
        Assert.Equal(new TenantClaim("acme", "node-b", 2), Store.ClaimTenant("acme", "node-b", T0.AddMinutes(1)));
        Assert.Equal([$"2|node-b|{T0.AddMinutes(1).UtcTicks}|0"], QuerySql("SELECT epoch, owner, claimed_ticks, commits FROM tenant_owners WHERE tenant = 'acme';"));
        // Each tenant's epochs are its own.
        Assert.Equal(1, Store.ClaimTenant("other", "node-a", T0).Epoch);
    }

    [Fact]
    public void Append_WithTheCurrentClaim_CommitsAndCountsTheCommitOnTheClaim()
    {
        var claim = Store.ClaimTenant("acme", "node-a", T0);
        List<LedgerEntry> entries = [Entry("e1", "ann", T0.UtcTicks), Entry("e2", "bob", T0.UtcTicks, "denied")];
        Store.Append("acme", entries, ActivityMarks.Of(entries), claim);
        Store.Append("acme", [], ActivityMarks.Empty, claim);

        Assert.Equal(2, Store.EventCount("acme"));
        Assert.Equal(["2"], QuerySql("SELECT commits FROM tenant_owners WHERE tenant = 'acme';"));
    }

    [Fact]
    public void Append_WithAStaleClaim_IsFencedAndWritesNothingOfTheGroup()
    {
        var stale = Store.ClaimTenant("acme", "node-a", T0);
        Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)], null, stale);
        var current = Store.ClaimTenant("acme", "node-b", T0.AddMinutes(1));
        var before = LedgerFigures();

        List<LedgerEntry> group = [Entry("e2", "bob", T0.AddMinutes(2).UtcTicks), Entry("e3", "cy", T0.AddMinutes(2).UtcTicks, "denied")];
        var fenced = Assert.Throws<LedgerFencedException>(() => Store.Append("acme", group, ActivityMarks.Of(group), stale));
        Assert.Equal(("acme", 1L, 2L), (fenced.Tenant, fenced.HeldEpoch, fenced.CurrentEpoch));
        Assert.Equal("Tenant acme's ledger is owned by epoch 2 (node-b); this writer holds epoch 1 and may no longer commit.", fenced.Message);
        // Activity alone is a commit too.
        Assert.Throws<LedgerFencedException>(() => Store.Append("acme", [], ActivityMarks.Of(group), stale));
        Assert.Equal(before, LedgerFigures());
        Assert.Empty(Store.KnownEventIds("acme", ["e2", "e3"]));

        // The refused group left the store as it was: the owner's group commits, with the very same ids.
        Store.Append("acme", group, ActivityMarks.Of(group), current);
        Assert.Equal(3, Store.EventCount("acme"));
    }

    [Fact]
    public void Append_WithAStaleClaim_RepeatingAnIdTheNewOwnerCommitted_IsFencedNotAUniqueViolation()
    {
        var stale = Store.ClaimTenant("acme", "node-a", T0);
        var current = Store.ClaimTenant("acme", "node-b", T0);
        Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)], null, current);

        var fenced = Assert.Throws<LedgerFencedException>(() => Store.Append("acme", [Entry("e0", "bob", T0.UtcTicks), Entry("e1", "ann", T0.UtcTicks)], null, stale));
        Assert.Equal((1L, 2L), (fenced.HeldEpoch, fenced.CurrentEpoch));
        Assert.Equal(["e1"], Store.Events("acme").Select(e => e.EventId));
    }

    [Fact]
    public void RecordTermsChange_WithAStaleClaim_IsFencedAndRecordsNothing()
    {
        var stale = Store.ClaimTenant("acme", "node-a", T0);
        Store.RecordTermsChange("acme", new TermsChange(0, "key-1", null, T0), stale);
        var current = Store.ClaimTenant("acme", "node-b", T0.AddMinutes(1));

        var fenced = Assert.Throws<LedgerFencedException>(() => Store.RecordTermsChange("acme", new TermsChange(0, "key-2", null, T0.AddMinutes(2)), stale));
        Assert.Equal((1L, 2L), (fenced.HeldEpoch, fenced.CurrentEpoch));
        Assert.Equal(["key-1"], Store.TermsChanges("acme").Select(c => c.LicenseKey));

        Store.RecordTermsChange("acme", new TermsChange(0, "key-2", null, T0.AddMinutes(2)), current);
        Assert.Equal(["key-1", "key-2"], Store.TermsChanges("acme").Select(c => c.LicenseKey));
    }

    [Fact]
    public void Append_ClaimTheTenantNeverHad_IsFencedAtEpochZero()
    {
        var e = Assert.Throws<LedgerFencedException>(() => Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)], null, new TenantClaim("acme", "node-a", 1)));
        Assert.Equal(0, e.CurrentEpoch);
        Assert.Equal("Tenant acme's ledger is owned by epoch 0; this writer holds epoch 1 and may no longer commit.", e.Message);
        Assert.Equal(0, Store.EventCount("acme"));
    }

    [Fact]
    public void AppendAndRecordTermsChange_WithoutAClaim_StillCommitWhateverTheClaims()
    {
        Store.ClaimTenant("acme", "node-a", T0);
        Store.ClaimTenant("acme", "node-b", T0);
        Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)]);
        Store.Append("acme", [Entry("e2", "bob", T0.UtcTicks)], null);
        Store.RecordTermsChange("acme", new TermsChange(2, "key", null, T0));

        Assert.Equal(2, Store.EventCount("acme"));
        Assert.Single(Store.TermsChanges("acme"));
        Assert.Equal(["0"], QuerySql("SELECT commits FROM tenant_owners WHERE tenant = 'acme';"));
    }

    /// <summary>Everything an append or a terms change writes for the tenant, as text: events, decisions, units, rollups, activity, terms.</summary>
    private string LedgerFigures() =>
        string.Join(" / ", new[]
        {
            "SELECT COUNT(*) FROM events WHERE tenant = 'acme';",
            "SELECT COUNT(*) FROM decisions WHERE tenant = 'acme';",
            "SELECT COUNT(*) FROM units WHERE tenant = 'acme';",
            "SELECT period, pool_units, pool_minutes, denied, events FROM usage_periods WHERE tenant = 'acme' ORDER BY period;",
            "SELECT period, user_name, units, minutes, denied, last_ticks FROM usage_users WHERE tenant = 'acme' ORDER BY user_name;",
            "SELECT period, app, units, minutes, last_ticks FROM usage_apps WHERE tenant = 'acme' ORDER BY app;",
            "SELECT hour, pool_minutes FROM usage_hours WHERE tenant = 'acme' ORDER BY hour;",
            "SELECT through_seq FROM activity_recorded WHERE tenant = 'acme';",
            "SELECT COUNT(*) FROM terms_changes WHERE tenant = 'acme';",
        }.Select(sql => string.Join(", ", QuerySql(sql))));
}
