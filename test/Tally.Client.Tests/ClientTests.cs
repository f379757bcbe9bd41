using Tally.Contract;

namespace Tally.Client.Tests;

/// <summary>
/// Tally.Client against a real <c>tally serve</c> behind a fault-injecting loopback proxy: batching, retries, outages
/// (shorter and longer than the buffer), the offline policy and its report. Each test has its own tenant and buffer.
/// </summary>
public sealed class ClientTests(SharedTally shared) : IClassFixture<SharedTally>, IDisposable
{
    private const string EventsPath = "/api/v1/events";
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-client-").FullName;

    private RealTally Tally => shared.Tally;

    private string Buffer(string name = "buffer.db") => Path.Combine(_dir, name);

    [Fact]
    public async Task Track_LeavesInBatchesOfBatchSize_OrAfterLinger()
    {
        var tenant = await Tally.CreateTenantAsync("batching");
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        await using (var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer("a.db"), o => { o.BatchSize = 50; o.Linger = TimeSpan.FromSeconds(30); }))
        {
            var ids = Enumerable.Range(0, 120).Select(i => client.Tally.Track($"u{i % 6}", "sales", TallyActions.Select, "pc")).ToList();
            Assert.Equal(120, ids.Distinct().Count());
            await client.Tally.FlushAsync();
            // 50 + 50 at once (full batches leave without waiting), the last 20 at the flush: three requests.
            Assert.Equal(3, proxy.LogOf(EventsPath).Count);
            Assert.Equal(120, await Tally.EventsRecordedAsync(tenant));
            Assert.Equal(120, client.Tally.Status.Sent);
        }
        proxy.ResetCounters();
        await using (var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer("b.db"), o => { o.BatchSize = 1000; o.Linger = TimeSpan.FromSeconds(2); }))
        {
            for (var i = 0; i < 3; i++)
            {
                client.Tally.Track("ana", "sales", TallyActions.Navigate, "pc");
            }
            // No flush: the linger alone sends them, together (2 s: three calls of a microsecond each never straddle it).
            await Eventually.Until(async () => await Tally.EventsRecordedAsync(tenant) == 123, "the lingering batch to arrive");
            Assert.Single(proxy.LogOf(EventsPath));
        }
    }

    [Fact]
    public async Task InjectedServiceUnavailable_IsRetried_AndALostAnswer_IsNeverChargedTwice()
    {
        var tenant = await Tally.CreateTenantAsync("retries");
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        await using var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer());
        proxy.FailNext(2, 503, EventsPath);
        for (var i = 0; i < 10; i++)
        {
            client.Tally.Track($"u{i}", "sales", TallyActions.OpenApp, "pc");
        }
        await client.Tally.FlushAsync();
        Assert.Equal([503, 503, 200], proxy.LogOf(EventsPath).Select(e => e.Status));
        Assert.Equal(10, await Tally.EventsRecordedAsync(tenant));
        Assert.Equal((10, 0, 0L), (client.Tally.Status.Sent, client.Tally.Status.Buffered, client.Tally.Status.Duplicates));

        // Tally commits the batch but the answer is lost on the way: the retry carries the same ids, so every event comes
        // back a duplicate and the ledger and the pool are unchanged.
        var before = await Tally.ConsumedMinutesAsync(tenant);
        proxy.LoseNextResponses(1, EventsPath);
        for (var i = 0; i < 5; i++)
        {
            client.Tally.Track($"v{i}", "finance", TallyActions.OpenApp, "pc");
        }
        await client.Tally.FlushAsync();
        Assert.Equal(15, await Tally.EventsRecordedAsync(tenant));
        Assert.Equal(5, client.Tally.Status.Duplicates);
        Assert.Equal(before + (5 * 6), await Tally.ConsumedMinutesAsync(tenant));
    }

    [Theory]
    [InlineData(BufferFullPolicy.DropNewest, 0)]
    [InlineData(BufferFullPolicy.DropOldest, 20)]
    public async Task AnOutageLongerThanTheBuffer_KeepsItsBound_DropsByPolicy_AndTellsTally(BufferFullPolicy policy, int firstKept)
    {
        var tenant = await Tally.CreateTenantAsync("bound-" + policy.ToString().ToLowerInvariant());
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        await using var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer(), o => { o.BufferMaxEvents = 40; o.WhenBufferFull = policy; o.BatchSize = 10; });
        proxy.Mode = ProxyMode.Abort;
        for (var i = 0; i < 60; i++)
        {
            client.Tally.Track($"u{i:00}", "sales", TallyActions.OpenApp, "pc");
        }
        await client.Tally.FlushAsync();
        Assert.Equal((false, 40L, 20L), (client.Tally.Status.Online, client.Tally.Status.Buffered, client.Tally.Status.Dropped));

        proxy.Mode = ProxyMode.Forward;
        await client.DrainAsync();
        var users = await Tally.UsagePerUserAsync(tenant);
        Assert.Equal(Enumerable.Range(firstKept, 40).Select(i => $"u{i:00}"), users.Keys.Order(StringComparer.Ordinal));
        var reports = await Tally.GetAsync<OfflineReportsView>("/api/v1/offline-reports", tenant);
        Assert.Equal(20, reports.DroppedEvents);
        Assert.Equal("test-client", Assert.Single(reports.Items).Client);
    }

    [Fact]
    public async Task FailOpen_SpendsTheGraceBudgetInLocalUnits_AndTheReportCarriesTallysLaterDecision()
    {
        var tenant = await Tally.CreateTenantAsync("grace");
        // The pool pays two units: the third user the client lets in offline is one Tally would have refused.
        await Tally.InstallLicenseAsync(RealTally.Terms(1, 12), tenant);
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        await using var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer(), o =>
        {
            o.OfflineAccess = OfflineAccessPolicy.FailOpen;
            o.OfflineGraceMinutes = 18;
        });
        proxy.Mode = ProxyMode.Abort;
        var ana = await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.OpenApp, "pc"));
        var anaAgain = await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.Select, "pc"));
        var bob = await client.Tally.CheckAccessAsync(new TallyEvent("bob", "sales", TallyActions.OpenApp, "pc"));
        var carl = await client.Tally.CheckAccessAsync(new TallyEvent("carl", "sales", TallyActions.OpenApp, "pc"));
        var before = TimeProvider.System.GetUtcNow();
        var dave = await client.Tally.CheckAccessAsync(new TallyEvent("dave", "sales", TallyActions.OpenApp, "pc"));
        var edit = await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.EditSheet, "pc"));

        Assert.All([ana, anaAgain, bob, carl, dave, edit], d => Assert.True(d.Offline));
        Assert.Equal(["charged", "covered", "charged", "charged"], new[] { ana, anaAgain, bob, carl }.Select(d => d.Decision));
        Assert.All([ana, anaAgain, bob, carl], d => Assert.True(d.Allowed));
        Assert.Equal((false, "offline-grace-exhausted"), (dave.Allowed, dave.Reason));
        Assert.InRange(dave.RetryAfter!.Value, before.AddSeconds(29), TimeProvider.System.GetUtcNow().AddSeconds(31));
        Assert.Equal((false, "offline-restricted"), (edit.Allowed, edit.Reason));
        Assert.Equal(18, client.Tally.Status.GraceMinutesUsed);

        proxy.Mode = ProxyMode.Forward;
        await client.DrainAsync();
        Assert.Equal(0, client.Tally.Status.GraceMinutesUsed);
        // The four engagements allowed offline were metered (same ids); the two denied offline never happened.
        Assert.Equal(4, await Tally.EventsRecordedAsync(tenant));
        var view = await Tally.GetAsync<OfflineReportsView>("/api/v1/offline-reports", tenant);
        Assert.Equal((1, 4L, 18L, 2L, 1L), (view.Reports, view.GrantedChecks, view.GraceMinutes, view.DeniedChecks, view.LaterDenied));
        var report = Assert.Single(view.Items);
        Assert.Equal(("fail-open", 18), (report.Policy, report.GraceBudgetMinutes));
        Assert.Equal([(ana.Id, 6, "charged"), (anaAgain.Id, 0, "covered"), (bob.Id, 6, "charged"), (carl.Id, 6, "denied")],
            report.Grants.Select(g => (g.EventId, g.Minutes, g.ServerDecision)));
        Assert.Equal("pool-exhausted", report.Grants[3].ServerReason);
    }

    [Fact]
    public async Task FailClosed_DeniesOffline_MetersNothing_AndReportsTheDenial()
    {
        var tenant = await Tally.CreateTenantAsync("closed");
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        await using var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer());
        proxy.Mode = ProxyMode.Status502;
        var decision = await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.OpenApp, "pc"));
        Assert.Equal((false, true, "offline", (AccessResult?)null), (decision.Allowed, decision.Offline, decision.Reason, decision.Server));
        Assert.Equal(0, client.Tally.Status.Buffered);

        proxy.Mode = ProxyMode.Forward;
        await client.DrainAsync();
        Assert.Equal(0, await Tally.EventsRecordedAsync(tenant));
        var view = await Tally.GetAsync<OfflineReportsView>("/api/v1/offline-reports", tenant);
        Assert.Equal((1, 0L, 1L), (view.Reports, view.GrantedChecks, view.DeniedChecks));
        // Back online, the next check is Tally's own decision.
        var online = await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.OpenApp, "pc"));
        Assert.Equal((true, false, "charged"), (online.Allowed, online.Offline, online.Decision));
    }

    [Fact]
    public async Task AfterADenialOffline_TheClientFindsTallyAgainByItself()
    {
        var tenant = await Tally.CreateTenantAsync("comeback");
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        await using var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer());
        proxy.Mode = ProxyMode.Abort;
        Assert.True((await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.OpenApp, "pc"))).Offline);
        proxy.Mode = ProxyMode.Forward;
        // Nothing queued, nothing flushed: the sender probes on its own and sends the report.
        await Eventually.Until(() => client.Tally.Status is { Online: true, OfflineRecords: 0 }, "the client to find Tally again");
        Assert.False((await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.OpenApp, "pc"))).Offline);
    }

    [Fact]
    public async Task AnAccessCheckWhoseAnswerWasLost_GetsTallysRealDecision_NotADuplicate()
    {
        var tenant = await Tally.CreateTenantAsync("lost-answer");
        await Tally.InstallLicenseAsync(RealTally.Terms(1, 6), tenant);
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        await using var client = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer());
        Assert.Equal("charged", (await client.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.OpenApp, "pc"))).Decision);
        // Tally denies bob (the pool's one unit is ana's) but the answer is lost; the retry is a duplicate of that denial.
        proxy.LoseNextResponses(1, "/api/v1/access");
        var bob = await client.Tally.CheckAccessAsync(new TallyEvent("bob", "sales", TallyActions.OpenApp, "pc"));
        Assert.Equal((false, "denied", "pool-exhausted", false), (bob.Allowed, bob.Decision, bob.Reason, bob.Offline));
        // ana; bob (answer lost); its retry (duplicate); bob asked again as a new event.
        Assert.Equal(4, proxy.LogOf("/api/v1/access").Count);
    }

    [Fact]
    public async Task TheGraceBudget_AndTheBufferedEvents_SurviveARestartOfTheApplication()
    {
        var tenant = await Tally.CreateTenantAsync("restart");
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        void FailOpen(TallyClientOptions o)
        {
            o.OfflineAccess = OfflineAccessPolicy.FailOpen;
            o.OfflineGraceMinutes = 12;
        }
        proxy.Mode = ProxyMode.Abort;
        string tracked;
        await using (var first = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer(), FailOpen))
        {
            Assert.True((await first.Tally.CheckAccessAsync(new TallyEvent("ana", "sales", TallyActions.OpenApp, "pc"))).Allowed);
            tracked = first.Tally.Track("ana", "sales", TallyActions.Select, "pc");
        }
        await using var second = ClientHost.Start(proxy.Address, tenant.Ingest, Buffer(), FailOpen);
        Assert.Equal((false, 2L, 6), (second.Tally.Status.Online, second.Tally.Status.Buffered, second.Tally.Status.GraceMinutesUsed));
        Assert.True((await second.Tally.CheckAccessAsync(new TallyEvent("bob", "sales", TallyActions.OpenApp, "pc"))).Allowed);
        Assert.Equal("offline-grace-exhausted", (await second.Tally.CheckAccessAsync(new TallyEvent("carl", "sales", TallyActions.OpenApp, "pc"))).Reason);

        proxy.Mode = ProxyMode.Forward;
        await second.DrainAsync();
        Assert.Equal(3, await Tally.EventsRecordedAsync(tenant));
        var report = Assert.Single((await Tally.GetAsync<OfflineReportsView>("/api/v1/offline-reports", tenant)).Items);
        Assert.Equal(["ana", "bob"], report.Grants.Select(g => g.User));
        Assert.DoesNotContain(report.Grants, g => g.EventId == tracked);
    }

    [Fact]
    public async Task ARefusedEvent_IsDroppedAlone_AndTheRestOfItsBatchIsMetered()
    {
        var tenant = await Tally.CreateTenantAsync("refused");
        await using var client = ClientHost.Start(Tally.Address, tenant.Ingest, Buffer(), o => o.Linger = TimeSpan.FromSeconds(10));
        client.Tally.Track("ana", "sales", TallyActions.OpenApp, "pc");
        client.Tally.Track(new TallyEvent("bob", "sales", "dance", "pc"));
        client.Tally.Track(new TallyEvent("carl", "sales", TallyActions.OpenApp, "pc", Time: TimeProvider.System.GetUtcNow().AddHours(1)));
        client.Tally.Track("dave", "sales", TallyActions.OpenApp, "pc");
        await client.Tally.FlushAsync();
        Assert.Equal((2L, 2L, 0L), (client.Tally.Status.Sent, client.Tally.Status.Rejected, client.Tally.Status.Buffered));
        Assert.Equal(["ana", "dave"], (await Tally.UsagePerUserAsync(tenant)).Keys.Order(StringComparer.Ordinal));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
