namespace Tally.Storage.Tests;

/// <summary>
/// The storage contract, once: every store runs these same tests against a real database of its kind. Each test
/// gets a fresh, empty ledger (a new SQLite file, or a new PostgreSQL schema).
/// </summary>
public abstract partial class LedgerStoreContract : IDisposable
{
    protected static readonly DateTimeOffset T0 = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private ILedgerStore? _store;

    /// <summary>A new store over this test's own empty database; not yet initialized.</summary>
    protected abstract ILedgerStore OpenStore();

    protected const int CurrentSchemaVersion = LedgerStore.CurrentSchemaVersion;

    /// <summary>The store's folder of migration scripts and of fixtures: <c>sqlite</c> or <c>postgres</c>.</summary>
    protected abstract string Dialect { get; }

    /// <summary>Runs raw SQL on this test's database (to stage an older schema).</summary>
    protected abstract void ExecuteSql(string sql);

    /// <summary>Runs a raw query on this test's database: each row its columns' text joined by '|', NULL as "null".</summary>
    protected abstract IReadOnlyList<string> QuerySql(string sql);

    /// <summary>Whether <paramref name="e"/> is the store's unique-violation failure.</summary>
    protected abstract bool IsUniqueViolation(Exception e);

    protected ILedgerStore Store
    {
        get
        {
            if (_store is null)
            {
                _store = OpenStore();
                _store.Initialize();
                _store.CreateTenant(new TenantRecord("acme", "Acme", T0));
            }
            return _store;
        }
    }

    public virtual void Dispose()
    {
        _store?.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static IReadOnlyList<string> RowsAsText(System.Data.Common.DbDataReader reader)
    {
        using (reader)
        {
            var rows = new List<string>();
            while (reader.Read())
            {
                rows.Add(string.Join('|', Enumerable.Range(0, reader.FieldCount)
                    .Select(i => reader.IsDBNull(i) ? "null" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
            }
            return rows;
        }
    }

    protected static LedgerEntry Entry(string? id, string user, long ticks, string kind = "charged") =>
        new(id, ticks, null, user, "", "sales", "open-app",
            [new StoredDecision(kind, kind == "denied" ? "pool-exhausted" : null, user, "sales", "2026-03", ticks, ticks + TimeSpan.TicksPerMinute * 6, 0, 6)],
            kind == "charged" ? [new StoredUnit(0, user, "", "sales", "2026-03", ticks, ticks + TimeSpan.TicksPerMinute * 6, 6, "time", "analyzer_time")] : [], "2026-03");

    [Fact]
    public void Initialize_Twice_IsIdempotentAtCurrentVersion()
    {
        Assert.Equal(CurrentSchemaVersion, Store.SchemaVersion());
        Store.Initialize();
        Assert.Equal(CurrentSchemaVersion, Store.SchemaVersion());
        Assert.Null(Store.CheckWritable());
        Assert.Equal("acme", Assert.Single(Store.Tenants()).Id);
    }

    [Fact]
    public async Task Append_OrdinaryDecisionInItsEventRow_EveryOtherDecisionInTheDecisionsTable()
    {
        var t = T0.UtcTicks;
        var six = TimeSpan.TicksPerMinute * 6;
        LedgerEntry Reload(string id, params StoredDecision[] decisions) => new(id, t, null, "ann", "", "sales", "reload", decisions, [], "2026-03");
        Store.Append("acme",
        [
            Entry("charged", "ann", t),
            Entry("covered", "ann", t + 1, "covered"),
            Entry("denied", "bob", t + 2, "denied"),
            // A reload's decisions are for the users connected to its app: several, or one for someone else.
            Reload("reload-two", new StoredDecision("charged", null, "cy", "sales", "2026-03", t, t + six, 0, 6),
                new StoredDecision("covered", null, "ann", "sales", "2026-03", t, t + six, 0, 0)),
            Reload("reload-other", new StoredDecision("covered", null, "cy", "sales", "2026-03", t, t + six, 0, 0)),
            Reload("reload-nobody"),
        ]);

        Assert.Equal(
        [
            $"charged|charged|2026-03|{t}|{t + six}|6",
            $"covered|covered|2026-03|{t + 1}|{t + 1 + six}|6",
            "denied|null|null|null|null|null",
            "reload-two|null|null|null|null|null",
            "reload-other|null|null|null|null|null",
            "reload-nobody|null|null|null|null|null",
        ], QuerySql("SELECT event_id, decision_kind, decision_period, unit_start_ticks, unit_end_ticks, decision_minutes FROM events ORDER BY seq;"));
        Assert.Equal(
        [
            "denied|0|denied|pool-exhausted|bob",
            "reload-two|0|charged|null|cy",
            "reload-two|1|covered|null|ann",
            "reload-other|0|covered|null|cy",
        ], QuerySql("SELECT e.event_id, d.idx, d.kind, d.reason, d.user_name FROM decisions d JOIN events e ON e.seq = d.event_seq ORDER BY d.event_seq, d.idx;"));
        Assert.Equal([new UserDenials("bob", "pool-exhausted", 1)], await Store.DenialsAsync("acme", "2026-03", CancellationToken.None));
        Assert.Equal(new PeriodUsage("2026-03", 1, 6, 1, 5), Store.PeriodUsage("acme", "2026-03"));
    }

    [Fact]
    public void Append_DuplicateIdInLedger_FailsWholeTransaction()
    {
        Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)]);
        var e = Assert.ThrowsAny<Exception>(() => Store.Append("acme", [Entry("e2", "bob", T0.UtcTicks), Entry("e1", "cy", T0.UtcTicks)]));
        Assert.True(IsUniqueViolation(e), e.ToString());
        Assert.Equal(1, Store.EventCount("acme"));
        Assert.Equal(["e1"], Store.KnownEventIds("acme", ["e1", "e2", "nope"]));
        Assert.Empty(Store.KnownEventIds("other", ["e1"]));
        Assert.Equal(1, Store.PeriodUsage("acme", "2026-03").Units);
    }

    [Fact]
    public void Append_DuplicateIdWithinOneBatch_FailsWholeTransaction()
    {
        Assert.ThrowsAny<Exception>(() => Store.Append("acme", [Entry("x", "ann", T0.UtcTicks), Entry("x", "bob", T0.UtcTicks)]));
        Assert.Equal(0, Store.EventCount("acme"));
        Assert.Equal(0, Store.PeriodUsage("acme", "2026-03").Units);
    }

    [Fact]
    public void Append_SameIdOtherTenantOrNoId_IsAccepted()
    {
        Store.CreateTenant(new TenantRecord("globex", "Globex", T0));
        Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks), Entry(null, "ann", T0.UtcTicks), Entry(null, "ann", T0.UtcTicks)]);
        Store.Append("globex", [Entry("e1", "ann", T0.UtcTicks)]);
        Assert.Equal(3, Store.EventCount("acme"));
        Assert.Equal(1, Store.EventCount("globex"));
    }

    [Fact]
    public void Events_ReadBack_InRecordedOrderWithStampsAndFields()
    {
        Store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "bob", T0.UtcTicks + 5) with { ClientTime = "2026-03-01T09:00:00Z", Device = "d1" }]);
        Store.Append("acme", [Entry("c", "cy", T0.UtcTicks + 9), Entry(null, "dee", T0.UtcTicks + 9)]);
        var events = Store.Events("acme").ToList();
        Assert.Equal(["a", "b", "c", null], events.Select(e => e.EventId));
        Assert.Equal([T0.UtcTicks, T0.UtcTicks + 5, T0.UtcTicks + 9, T0.UtcTicks + 9], events.Select(e => e.TimeTicks));
        Assert.Equal("2026-03-01T09:00:00Z", events[1].ClientTime);
        Assert.Null(events[0].ClientTime);
        Assert.Equal(("bob", "d1", "sales", "open-app"), (events[1].User, events[1].Device, events[1].App, events[1].Action));
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.Seq < p.Second.Seq));
    }

    [Fact]
    public void KnownEventIds_ManyAtOnce_ExactlyTheStoredOnes()
    {
        // More ids than one statement binds on SQLite (chunks of 500), half of them stored.
        var stored = Enumerable.Range(0, 1200).Where(i => i % 2 == 0).Select(i => $"ev-{i}").ToList();
        Store.Append("acme", [.. stored.Select((id, i) => Entry(id, "ann", T0.UtcTicks + i))]);
        var asked = Enumerable.Range(0, 1200).Select(i => $"ev-{i}").ToList();
        Assert.Equal(stored.Order(StringComparer.Ordinal), Store.KnownEventIds("acme", asked).Order(StringComparer.Ordinal));
        Assert.Empty(Store.KnownEventIds("acme", []));
    }

    [Fact]
    public void Append_AwkwardText_RoundTripsExactly()
    {
        const string user = "Åsa \"ö\" <b>&amp; 😀 \\ tab\t";
        const string app = "sales/📈 'q1' +x";
        var entry = new LedgerEntry("id-😀-\u00e9", T0.UtcTicks, "2026-03-01T09:00:00+01:00", user, "dev\u2028ice", app, "open-app",
            [new StoredDecision("charged", null, user, app, "2026-03", T0.UtcTicks, T0.UtcTicks + 1, 0, 6)],
            [new StoredUnit(0, user, "dev\u2028ice", app, "2026-03", T0.UtcTicks, T0.UtcTicks + 1, 6, "time", "analyzer_time")], "2026-03");
        Store.Append("acme", [entry]);
        var stored = Assert.Single(Store.Events("acme"));
        Assert.Equal((entry.EventId, entry.ClientTime, user, "dev\u2028ice", app), (stored.EventId, stored.ClientTime, stored.User, stored.Device, stored.App));
        Assert.Equal(["id-😀-\u00e9"], Store.KnownEventIds("acme", ["id-😀-\u00e9"]));
        var unit = Assert.Single(Store.Units("acme", new UnitQuery(10)).Units);
        Assert.Equal((user, "dev\u2028ice", app), (unit.User, unit.Device, unit.App));
        Assert.Equal(user, Assert.Single(Store.UserUsage("acme", "2026-03")).User);
    }

    [Fact]
    public void Reports_SumUnitsPerUser_AndPageUnits()
    {
        Store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "bob", T0.UtcTicks), Entry("c", "ann", T0.UtcTicks + TimeSpan.TicksPerHour)]);
        Store.Append("acme", [Entry("d", "cy", T0.UtcTicks, kind: "denied"), Entry("e", "cy", T0.UtcTicks, kind: "covered")]);
        var usage = Store.PeriodUsage("acme", "2026-03");
        Assert.Equal((3L, 18L, 1L, 5L), (usage.Units, usage.Minutes, usage.DeniedEvents, usage.Events));
        Assert.Equal([("ann", 12L, 0L), ("bob", 6L, 0L), ("cy", 0L, 1L)], Store.UserUsage("acme", "2026-03").Select(u => (u.User, u.Minutes, u.DeniedEvents)));
        var first = Store.Units("acme", new UnitQuery(2));
        Assert.Equal(["ann", "bob"], first.Units.Select(u => u.User));
        Assert.True(first.HasMore);
        var last = first.Units[^1];
        var second = Store.Units("acme", new UnitQuery(2, After: new UnitPosition(last.EndTicks, last.Id)));
        Assert.Equal("ann", Assert.Single(second.Units).User);
        Assert.False(second.HasMore);
    }

    [Fact]
    public void Units_EndBounds_HalfOpenAndClosed()
    {
        var sixMinutes = TimeSpan.TicksPerMinute * 6;
        Store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "bob", T0.UtcTicks + sixMinutes), Entry("c", "cy", T0.UtcTicks + 2 * sixMinutes)]);
        var end0 = T0.UtcTicks + sixMinutes;
        string[] Users(UnitQuery q) => [.. Store.Units("acme", q).Units.Select(u => u.User)];
        Assert.Equal(["ann", "bob"], Users(new UnitQuery(10, EndFromTicks: end0, EndToTicks: end0 + 2 * sixMinutes)));
        Assert.Equal(["bob"], Users(new UnitQuery(10, EndFromTicks: end0, EndFromInclusive: false, EndToTicks: end0 + 2 * sixMinutes)));
        Assert.Equal(["bob", "cy"], Users(new UnitQuery(10, EndFromTicks: end0, EndFromInclusive: false, EndToTicks: end0 + 2 * sixMinutes, EndToInclusive: true)));
        Assert.Equal(["ann"], Users(new UnitQuery(10, EndToTicks: end0, EndToInclusive: true)));
    }

    [Fact]
    public void Units_KeysetPaging_BothOrders_NewRecordsNeitherRepeatNorSkip()
    {
        var sixMinutes = TimeSpan.TicksPerMinute * 6;
        // Two units share an end instant: the id breaks the tie, so the order is total.
        Store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "bob", T0.UtcTicks + sixMinutes), Entry("c", "cy", T0.UtcTicks + sixMinutes),
            Entry("d", "dan", T0.UtcTicks + 2 * sixMinutes)]);
        List<string> Walk(bool descending, Action? betweenPages = null)
        {
            var seen = new List<string>();
            UnitPosition? after = null;
            while (true)
            {
                var page = Store.Units("acme", new UnitQuery(2, descending, after));
                seen.AddRange(page.Units.Select(u => u.User));
                betweenPages?.Invoke();
                betweenPages = null;
                if (!page.HasMore)
                {
                    return seen;
                }
                after = new UnitPosition(page.Units[^1].EndTicks, page.Units[^1].Id);
            }
        }
        Assert.Equal(["ann", "bob", "cy", "dan"], Walk(descending: false));
        Assert.Equal(["dan", "cy", "bob", "ann"], Walk(descending: true));
        // A unit ending before the cursor and one after it arrive between the pages: the walk neither repeats nor skips
        // what it had, sees the later one, and not the earlier one (it belongs to pages already read).
        var walk = Walk(descending: false, () => Store.Append("acme", [Entry("e", "eve", T0.UtcTicks - sixMinutes), Entry("f", "fay", T0.UtcTicks + 3 * sixMinutes)]));
        Assert.Equal(["ann", "bob", "cy", "dan", "fay"], walk);
    }

    [Fact]
    public void ApiKeys_RevokeAndFindByHash()
    {
        var hash = new byte[32];
        hash[0] = 7;
        Store.AddApiKey(new ApiKeyRecord("k1", hash, "acme", ApiRole.Ingest, T0, null));
        Store.AddApiKey(new ApiKeyRecord("k0", [1, 2, 3], null, ApiRole.Bootstrap, T0, null));
        Assert.Equal(ApiRole.Ingest, Store.FindApiKey(hash)!.Role);
        Assert.Equal("k0", Assert.Single(Store.ApiKeys(null)).Id);
        Assert.Equal("k1", Assert.Single(Store.ApiKeys("acme")).Id);
        Assert.True(Store.HasActiveKey(ApiRole.Ingest));
        Assert.True(Store.RevokeApiKey("k1", T0));
        Assert.False(Store.RevokeApiKey("k1", T0));
        Assert.NotNull(Store.FindApiKey(hash)!.Revoked);
        Assert.False(Store.HasActiveKey(ApiRole.Ingest));
        Assert.Null(Store.GetApiKey("nope"));
    }

    [Fact]
    public void Tenants_CreateTwice_SecondIsRefused()
    {
        Assert.False(Store.CreateTenant(new TenantRecord("acme", "Other", T0)));
        Assert.True(Store.CreateTenant(new TenantRecord("Zeta", "Zeta", T0)));
        Assert.Equal("Acme", Store.GetTenant("acme")!.Name);
        Assert.Equal(["Zeta", "acme"], Store.Tenants().Select(t => t.Id));
        Assert.Null(Store.GetTenant("nope"));
    }

    [Fact]
    public void LicenseAndPlan_SetReplacesAndReadsBack()
    {
        Assert.Null(Store.GetLicense("acme"));
        Store.SetLicense(new LicenseRecord("acme", "key-1", T0));
        Store.SetLicense(new LicenseRecord("acme", "key-2", T0.AddHours(1)));
        Assert.Equal(("key-2", T0.AddHours(1)), (Store.GetLicense("acme")!.Key, Store.GetLicense("acme")!.Installed));
        Store.SetPlan("acme", "{\"a\":1}", T0);
        Store.SetPlan("acme", "{\"a\":2}", T0);
        Assert.Equal("{\"a\":2}", Store.GetPlan("acme"));
    }

    [Fact]
    public void WorkCalendar_SetReplacesAndReadsBackPerTenant()
    {
        Store.CreateTenant(new TenantRecord("other", "Other", T0));
        Assert.Null(Store.GetWorkCalendar("acme"));
        Store.SetWorkCalendar("acme", new WorkCalendarSetting("FR", [new DateOnly(2026, 12, 24), new DateOnly(2026, 12, 31)]), T0);
        Store.SetWorkCalendar("other", new WorkCalendarSetting("none", []), T0);
        var read = Store.GetWorkCalendar("acme")!;
        Assert.Equal("FR", read.Holidays);
        Assert.Equal([new DateOnly(2026, 12, 24), new DateOnly(2026, 12, 31)], read.ClosedDays);
        // Replaced whole, and the other tenant's setting is its own.
        Store.SetWorkCalendar("acme", WorkCalendarSetting.Default, T0.AddHours(1));
        Assert.Equal(("auto", 0), (Store.GetWorkCalendar("acme")!.Holidays, Store.GetWorkCalendar("acme")!.ClosedDays.Count));
        Assert.Equal(("none", 0), (Store.GetWorkCalendar("other")!.Holidays, Store.GetWorkCalendar("other")!.ClosedDays.Count));
        // The most a tenant may list (WorkCalendar.MaxClosureDays) reads back in order.
        var many = Enumerable.Range(0, 1000).Select(i => new DateOnly(2026, 1, 1).AddDays(i)).ToList();
        Store.SetWorkCalendar("acme", new WorkCalendarSetting("auto", many), T0);
        Assert.Equal(many, Store.GetWorkCalendar("acme")!.ClosedDays);
    }

    [Fact]
    public void TermsChanges_RecordedInOrderWithPositions()
    {
        Assert.Empty(Store.TermsChanges("acme"));
        Store.RecordTermsChange("acme", new TermsChange(0, "key-1", null, T0));
        Store.RecordTermsChange("acme", new TermsChange(42, "key-1", "{\"plan\":1}", T0.AddMinutes(5)));
        Store.RecordTermsChange("acme", new TermsChange(42, null, null, T0.AddMinutes(6)));
        Assert.Equal(
            [new TermsChange(0, "key-1", null, T0), new TermsChange(42, "key-1", "{\"plan\":1}", T0.AddMinutes(5)), new TermsChange(42, null, null, T0.AddMinutes(6))],
            Store.TermsChanges("acme"));
    }

    [Fact]
    public async Task Monitoring_HoursActivityAndFirstEvent_AgreeWithLedger()
    {
        var hour = TimeSpan.TicksPerHour;
        Assert.Null(Store.FirstEventTicks("acme"));
        Store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "bob", T0.UtcTicks + 10), Entry("c", "ann", T0.UtcTicks + hour)]);
        Store.Append("acme", [Entry("d", "cy", T0.UtcTicks + hour + 5, kind: "denied")]);
        Assert.Equal(T0.UtcTicks, Store.FirstEventTicks("acme"));
        Assert.Equal([new HourlyMinutes(T0.UtcTicks, 12), new HourlyMinutes(T0.UtcTicks + hour, 6)], Store.HourlyPoolMinutes("acme", T0.UtcTicks, T0.UtcTicks + 2 * hour));
        Assert.Equal(
            [new UserHourUsage(T0.UtcTicks, "ann", 1, 6, 0), new UserHourUsage(T0.UtcTicks, "bob", 1, 6, 0),
             new UserHourUsage(T0.UtcTicks + hour, "ann", 1, 6, 0), new UserHourUsage(T0.UtcTicks + hour, "cy", 0, 0, 1)],
            await Store.UserHoursAsync("acme", T0.UtcTicks, T0.UtcTicks + 2 * hour, CancellationToken.None));
        var users = Store.UserActivity("acme", "2026-03", T0.UtcTicks, T0.UtcTicks + hour).OrderBy(u => u.User, StringComparer.Ordinal).ToList();
        Assert.Equal(
            [new UserActivity("ann", 2, 12, 0, 1, T0.UtcTicks, "analyzer_time"), new UserActivity("bob", 1, 6, 0, 1, T0.UtcTicks + 10, "analyzer_time"),
             new UserActivity("cy", 0, 0, 1, 0, null, null)],
            users);
        Assert.Equal(new AppActivity("sales", 3, 18, 2, T0.UtcTicks + hour + 5), Assert.Single(Store.AppActivity("acme", "2026-03", T0.UtcTicks, T0.UtcTicks + 2 * hour)));
    }

    [Fact]
    public async Task Denials_CountedPerUserAndRecordedReason_InThePeriodOnly()
    {
        static LedgerEntry Changed(LedgerEntry entry, Func<StoredDecision, StoredDecision> change) => entry with { Decisions = [change(entry.Decisions[0])] };
        var capped = Changed(Entry("x", "ann", T0.UtcTicks + 20, kind: "denied"), d => d with { Reason = "user-cap-reached" });
        var lastMonth = Changed(Entry("y", "ann", T0.UtcTicks - 1, kind: "denied"), d => d with { Period = "2026-02" });
        Store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "ann", T0.UtcTicks + 10, kind: "denied"), capped, lastMonth]);
        Store.Append("acme", [Entry("c", "cy", T0.UtcTicks + 30, kind: "denied"), Entry("d", "cy", T0.UtcTicks + 40, kind: "denied")]);
        Assert.Equal(
            [new UserDenials("ann", "pool-exhausted", 1), new UserDenials("ann", "user-cap-reached", 1), new UserDenials("cy", "pool-exhausted", 2)],
            (await Store.DenialsAsync("acme", "2026-03", CancellationToken.None)).OrderBy(d => d.User, StringComparer.Ordinal).ThenBy(d => d.Reason, StringComparer.Ordinal));
        Assert.Equal([new UserDenials("ann", "pool-exhausted", 1)], await Store.DenialsAsync("acme", "2026-02", CancellationToken.None));
        Assert.Empty(await Store.DenialsAsync("acme", "2026-04", CancellationToken.None));
    }

    [Fact]
    public void Alerts_ChannelsRulesClaimOnceAndHistoryPages()
    {
        Assert.True(Store.TryAddAlertChannel(new AlertChannelRecord("c1", "acme", "webhook", "hook", "http://127.0.0.1:1/x", "s3cret", T0), 50));
        Assert.True(Store.TryAddAlertChannel(new AlertChannelRecord("c2", "acme", "email", "ops", "ops@example.com", null, T0.AddMinutes(1)), 50));
        Assert.Equal(["c1", "c2"], Store.AlertChannels("acme").Select(c => c.Id));
        Assert.Equal("s3cret", Store.AlertChannels("acme")[0].Secret);
        Assert.True(Store.DeleteAlertChannel("acme", "c2"));
        Assert.False(Store.DeleteAlertChannel("acme", "c2"));
        Assert.True(Store.TryAddAlertRule(new AlertRuleRecord("r1", "acme", "80%", "threshold-percent", 80.5, ["c1", "c2"], T0), 100));
        Assert.True(Store.TryAddAlertRule(new AlertRuleRecord("r2", "acme", "lockout", "lockout", null, [], T0), 100));
        Assert.True(Store.TryAddAlertRule(new AlertRuleRecord("r3", "acme", "run-out", "forecast-run-out", null, ["c1"], T0.AddMinutes(1), "pessimistic"), 100));
        var rules = Store.AlertRules("acme");
        Assert.Equal((null, "pessimistic"), (rules[0].Bound, rules[2].Bound));
        Assert.Equal(80.5, rules[0].Value);
        Assert.Equal(["c1", "c2"], rules[0].ChannelIds);
        Assert.Equal((null, 0), (rules[1].Value, rules[1].ChannelIds.Count));
        Assert.True(Store.DeleteAlertRule("acme", "r2"));
        var claim = new AlertClaim("acme", "r1", "2026-03", "", T0);
        Assert.True(Store.ClaimAlert(claim));
        Assert.False(Store.ClaimAlert(claim with { FiredAt = T0.AddHours(1) }));
        Assert.True(Store.ClaimAlert(claim with { Subject = "ann" }));
        var ids = Enumerable.Range(0, 5).Select(i => Store.AddAlertHistory(
            new AlertHistoryRecord(0, "acme", "r1", "threshold-percent", "2026-03", "", T0, i == 0 ? null : "c1", i == 0 ? null : "webhook", "sent", $"m{i}", null))).ToList();
        Assert.Equal(ids.Order(), ids);
        var newest = Store.AlertHistory("acme", 0, 2);
        Assert.Equal(["m4", "m3"], newest.Select(h => h.Message));
        Assert.Equal(["m2", "m1", "m0"], Store.AlertHistory("acme", newest[^1].Id, 10).Select(h => h.Message));
        Assert.Null(Store.AlertHistory("acme", 0, 10)[^1].ChannelId);
    }

    [Fact]
    public void Alerts_TryAddRacingPastTheLimit_StopsExactlyAtIt()
    {
        Store.CreateTenant(new TenantRecord("other", "Other", T0));
        // Many threads at once, so counts taken before inserts would go stale; the store must still stop at 5.
        var added = 0;
        Parallel.For(0, 40, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
        {
            if (Store.TryAddAlertChannel(new AlertChannelRecord($"c{i}", "acme", "email", "ops", "ops@example.com", null, T0), 5))
            {
                Interlocked.Increment(ref added);
            }
            Store.TryAddAlertRule(new AlertRuleRecord($"r{i}", "acme", "r", "lockout", null, ["c0"], T0), 7);
        });
        Assert.Equal(5, added);
        Assert.Equal(5, Store.AlertChannels("acme").Count);
        Assert.Equal(7, Store.AlertRules("acme").Count);
        // The limit is per tenant: another tenant still has room, and a full tenant gets room back by deleting.
        Assert.True(Store.TryAddAlertChannel(new AlertChannelRecord("o1", "other", "email", "ops", "ops@example.com", null, T0), 5));
        Assert.False(Store.TryAddAlertChannel(new AlertChannelRecord("late", "acme", "email", "ops", "ops@example.com", null, T0), 5));
        Assert.True(Store.DeleteAlertChannel("acme", Store.AlertChannels("acme")[0].Id));
        Assert.True(Store.TryAddAlertChannel(new AlertChannelRecord("late", "acme", "email", "ops", "ops@example.com", null, T0), 5));
    }

    /// <summary>A reload-like event: decisions for two users, one unit each, one in another period.</summary>
    private static LedgerEntry Reload(string id, long ticks) =>
        new(id, ticks, null, "", "", "sales", "scheduled-reload",
            [new StoredDecision("charged", null, "ann", "sales", "2026-03", ticks, ticks + 1, 0, 6),
             new StoredDecision("denied", "pool-exhausted", "bob", "sales", "2026-03", 0, 0, ticks + 1, 0),
             new StoredDecision("charged", null, "cy", "sales", "2026-04", ticks, ticks + 1, 0, 6)],
            [new StoredUnit(0, "ann", "", "sales", "2026-03", ticks, ticks + 1, 6, "time", "analyzer_time"),
             new StoredUnit(0, "cy", "", "sales", "2026-04", ticks, ticks + 1, 6, "assigned", "professional")], "2026-03");

    [Fact]
    public void Rollups_MultiDecisionEventsAndSeats_CountLikeTheRows()
    {
        Store.Append("acme", [Reload("r1", T0.UtcTicks), Entry("a", "ann", T0.UtcTicks + 5), Entry("d", "bob", T0.UtcTicks + 7, kind: "denied")]);
        Store.Append("acme", [Reload("r2", T0.UtcTicks + TimeSpan.TicksPerHour), Entry("c", "dee", T0.UtcTicks, kind: "covered")]);
        Assert.Equal(new PeriodUsage("2026-03", 3, 18, 3, 5), Store.PeriodUsage("acme", "2026-03"));
        // Seat units (assigned) are not pool units; the event counts once per period it touches.
        Assert.Equal(new PeriodUsage("2026-04", 0, 0, 0, 2), Store.PeriodUsage("acme", "2026-04"));
        Assert.Equal(new PeriodUsage("2026-05", 0, 0, 0, 0), Store.PeriodUsage("acme", "2026-05"));
        Assert.Equal([new UserUsage("ann", 3, 18, 0), new UserUsage("bob", 0, 0, 3)], Store.UserUsage("acme", "2026-03"));
        Assert.Equal([new UserUsage("cy", 2, 12, 0)], Store.UserUsage("acme", "2026-04"));
    }

    [Fact]
    public void HourlyPoolMinutes_UnalignedRange_SameAsCountingUnits()
    {
        var hour = TimeSpan.TicksPerHour;
        var minute = TimeSpan.TicksPerMinute;
        Store.Append("acme", [.. Enumerable.Range(0, 40).Select(i => Entry($"e{i}", $"u{i}", T0.UtcTicks + i * 17 * minute))]);
        // Units start every 17 minutes over about 11 hours; ask from 0:30 to 9:10, then for part of one hour.
        var from = T0.UtcTicks + 30 * minute;
        var to = T0.UtcTicks + 9 * hour + 10 * minute;
        var expected = Enumerable.Range(0, 40).Select(i => T0.UtcTicks + i * 17 * minute).Where(t => t >= from && t < to)
            .GroupBy(t => t / hour * hour).Select(g => new HourlyMinutes(g.Key, 6L * g.Count())).ToList();
        Assert.Equal(expected, Store.HourlyPoolMinutes("acme", from, to));
        // 2:16 and 2:33 start inside 2:10-2:40.
        Assert.Equal([new HourlyMinutes(T0.UtcTicks + 2 * hour, 12)], Store.HourlyPoolMinutes("acme", T0.UtcTicks + 2 * hour + 10 * minute, T0.UtcTicks + 2 * hour + 40 * minute));
        Assert.Empty(Store.HourlyPoolMinutes("acme", T0.UtcTicks + 20 * hour, T0.UtcTicks + 30 * hour));
    }

    [Fact]
    public void Append_ConcurrentTenants_EachKeepsItsOwnOrder()
    {
        foreach (var t in new[] { "t1", "t2", "t3", "t4" })
        {
            Store.CreateTenant(new TenantRecord(t, t, T0));
        }
        Parallel.ForEach(new[] { "t1", "t2", "t3", "t4" }, tenant =>
        {
            for (var b = 0; b < 10; b++)
            {
                Store.Append(tenant, [.. Enumerable.Range(0, 50).Select(i => Entry($"{b}-{i}", $"u{i}", T0.UtcTicks + b * 100 + i))]);
            }
        });
        foreach (var t in new[] { "t1", "t2", "t3", "t4" })
        {
            var ticks = Store.Events(t).Select(e => e.TimeTicks).ToList();
            Assert.Equal(500, ticks.Count);
            Assert.Equal(ticks.Order(), ticks);
            Assert.Equal(500, Store.PeriodUsage(t, "2026-03").Units);
        }
    }
}
