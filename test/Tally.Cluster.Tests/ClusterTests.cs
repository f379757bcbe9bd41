using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace Tally.Cluster.Tests;

/// <summary>Starts the throwaway PostgreSQL once for the class; each test makes its own schema and nodes.</summary>
public sealed class PostgresFixture : IDisposable
{
    public PostgresCluster Cluster { get; } = new();

    public void Dispose() => Cluster.Dispose();
}

/// <summary>
/// Three real <c>tally serve --cluster</c> processes on loopback over one PostgreSQL: requests spread over every node,
/// a node killed or frozen under load, a rolling restart. The ledger, read with SQL, judges: every acknowledged event
/// once, with the decision it was answered, and the pool equal to its units.
/// </summary>
public sealed class ClusterTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static readonly TimeSpan Handover = TimeSpan.FromSeconds(60);

    private async Task<(ClusterNodes Nodes, TenantKeys Tenant)> StartAsync(string tenant = "busy")
    {
        var nodes = await ClusterNodes.StartAsync(postgres.Cluster);
        try
        {
            var keys = await nodes.CreateTenantAsync(tenant);
            using var admin = nodes.Client(1, keys.Admin);
            using var installed = await admin.PutAsJsonAsync("/api/v1/license", new { key = nodes.Vendor.Issue(RealTally.Terms(packs: 100, packMinutes: 60_000)) });
            Assert.True(installed.StatusCode == HttpStatusCode.OK, await installed.Content.ReadAsStringAsync());
            return (nodes, keys);
        }
        catch
        {
            await nodes.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Requests_ToEveryNode_ServedByEachTenantsOneOwner()
    {
        var (nodes, acme) = await StartAsync("acme");
        await using var _ = nodes;
        var tenants = new List<TenantKeys> { acme };
        for (var t = 1; t < 6; t++)
        {
            tenants.Add(await nodes.CreateTenantAsync($"tenant{t}", via: t % nodes.Count));
        }
        // Every tenant through every node: each answer is the tenant's own meter, whichever node took the request.
        foreach (var (tenant, t) in tenants.Select((k, t) => (k, t)))
        {
            for (var i = 0; i < nodes.Count; i++)
            {
                using var client = nodes.Client(i, tenant.Ingest);
                var answer = await client.SendEventsAsync(new { id = $"{tenant.Id}-{i}", user = "ann", device = "laptop", app = "sales", action = "open-app" });
                Assert.Equal(i == 0 ? "charged" : "covered", answer[0].Decision());
            }
        }
        // One owner per tenant, each claimed once; together the nodes own them all.
        var owners = tenants.Select(t => nodes.Owner(t.Id)).ToList();
        Assert.All(owners, o => Assert.Equal(1, o.Epoch));
        Assert.All(owners, o => Assert.InRange(o.Node, 0, nodes.Count - 1));
        var healths = await Task.WhenAll(Enumerable.Range(0, nodes.Count).Select(nodes.HealthAsync));
        Assert.Equal(tenants.Count, healths.Sum(h => h!.Cluster!.TenantsOwned));
        // Each node handed requests to grains (its own and others'): /metrics counts them.
        for (var i = 0; i < nodes.Count; i++)
        {
            using var anonymous = nodes.Client(i, null);
            var metrics = await anonymous.GetStringAsync("/metrics");
            Assert.Matches("tally_cluster_forwarded_total\\{[^}]*outcome=\"ok\"[^}]*\\} ([1-9][0-9]*)", metrics);
            Assert.Contains("tally_cluster_nodes{", metrics, StringComparison.Ordinal);
        }
        // Reads agree whichever node answers: three events, one unit of six minutes.
        foreach (var i in Enumerable.Range(0, nodes.Count))
        {
            using var reader = nodes.Client(i, acme.Read);
            var summary = JsonSerializer.Deserialize<JsonElement>(await reader.GetStringAsync("/api/v1/usage/summary"));
            Assert.Equal(3, summary.GetProperty("events").GetInt64());
            Assert.Equal(6, summary.GetProperty("consumedMinutes").GetInt64());
        }
        // The dashboard's conditional reads: the owner's ETag, and a 304 through any node.
        using (var reader = nodes.Client(0, acme.Read))
        {
            using var first = await reader.GetAsync("/api/v1/allocations");
            var tag = first.Headers.ETag;
            Assert.NotNull(tag);
            for (var i = 0; i < nodes.Count; i++)
            {
                using var again = nodes.Client(i, acme.Read);
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/allocations");
                request.Headers.IfNoneMatch.Add(tag);
                using var notModified = await again.SendAsync(request);
                Assert.True(notModified.StatusCode == HttpStatusCode.NotModified, $"node {i}: {notModified.StatusCode}");
                Assert.Equal(tag, notModified.Headers.ETag);
                Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
            }
        }
        // Qlik's paging through a node that does not own the tenant: every link names the address the client used, and
        // the pages chain to every unit once.
        using (var ingest = nodes.Client(1, acme.Ingest))
        {
            await ingest.SendEventsAsync(
                new { id = "bob-1", user = "bob", device = "laptop", app = "sales", action = "open-app" },
                new { id = "cy-1", user = "cy", device = "laptop", app = "sales", action = "open-app" });
        }
        var front = (nodes.Owner("acme").Node + 1) % nodes.Count;
        using var qlikReader = nodes.Client(front, acme.Read);
        var pagedUsers = new List<string>();
        string? href = "/api/v1/licenses/consumption?limit=1";
        while (href is not null)
        {
            var page = JsonSerializer.Deserialize<JsonElement>(await qlikReader.GetStringAsync(href));
            pagedUsers.AddRange(page.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("userId").GetString()!));
            href = page.GetProperty("links").TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.Object
                ? next.GetProperty("href").GetString() : null;
            Assert.True(href is null || href.StartsWith(nodes.Address(front) + "api/v1/licenses/consumption?", StringComparison.Ordinal), href);
        }
        Assert.Equal(["ann", "bob", "cy"], pagedUsers.Order(StringComparer.Ordinal));

        // A dashboard session begun through one node works through every node, and a sign-out through any ends it.
        using var browser = new HttpClient(new HttpClientHandler { UseCookies = false });
        using var signIn = await browser.PostAsJsonAsync(new Uri(nodes.Address(0), "/dashboard/session"), new { key = acme.Read });
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie")).Split(';')[0];
        async Task<HttpStatusCode> WithCookie(HttpMethod method, int node, string path)
        {
            using var request = new HttpRequestMessage(method, new Uri(nodes.Address(node), path));
            request.Headers.Add("Cookie", cookie);
            using var response = await browser.SendAsync(request);
            return response.StatusCode;
        }
        for (var i = 0; i < nodes.Count; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await WithCookie(HttpMethod.Get, i, "/api/v1/usage/summary"));
        }
        await WithCookie(HttpMethod.Delete, nodes.Count - 1, "/dashboard/session");
        for (var i = 0; i < nodes.Count; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await WithCookie(HttpMethod.Get, i, "/api/v1/usage/summary"));
        }
    }

    [Fact]
    public async Task KillOwner_UnderLoad_EveryAcknowledgedEventOnceAndPoolEqualsUnits()
    {
        var (nodes, tenant) = await StartAsync();
        await using var _ = nodes;
        var traffic = new Traffic(nodes, tenant);
        traffic.Start();
        await traffic.MoreAsync(300);
        var (owner, epoch) = nodes.Owner(tenant.Id);
        Assert.InRange(owner, 0, nodes.Count - 1);
        nodes.Kill9(owner);
        traffic.Usable = i => i != owner;
        // The tenant answers again from another node, under a new claim, and the load goes on.
        await traffic.MoreAsync(300, Handover);
        var (next, nextEpoch) = nodes.Owner(tenant.Id);
        Assert.NotEqual(owner, next);
        Assert.True(nextEpoch > epoch, $"the new owner's epoch {nextEpoch} is not past the dead one's {epoch}");
        await traffic.StopAsync(TimeSpan.FromMinutes(2));
        Ledger.Read(nodes, tenant.Id).AssertHolds(traffic, "after the owner was killed");
        Assert.True(traffic.Refused > 0, "killing the owner under load refused nothing: the test did not test a failure");
    }

    [Fact]
    public async Task FrozenOwner_PendingCommitIsRefusedAfterTheTenantMoved()
    {
        var (nodes, tenant) = await StartAsync();
        await using var _ = nodes;
        using (var warm = nodes.Client(0, tenant.Ingest))
        {
            await warm.SendEventsAsync(new { id = "warm", user = "ann", device = "laptop", app = "sales", action = "open-app" });
        }
        var (zombie, epoch) = nodes.Owner(tenant.Id);
        // Hold the rollups, so the owner's next commit waits in PostgreSQL mid-transaction, before its fence.
        await using var blocker = nodes.Open();
        await using var hold = await blocker.BeginTransactionAsync();
        await new NpgsqlCommand("LOCK TABLE usage_periods IN SHARE MODE;", blocker, hold).ExecuteNonQueryAsync();
        using var toZombie = nodes.Client(zombie, tenant.Ingest);
        toZombie.Timeout = TimeSpan.FromMinutes(3);
        var pending = toZombie.PostAsJsonAsync("/api/v1/events", new[] { new { id = "pending", user = "bob", device = "laptop", app = "sales", action = "open-app" } });
        await Eventually.Until(() => WaitingOnLock(nodes), "the owner's commit to wait on the held rollups");
        nodes.Freeze(zombie);
        // The frozen node misses its probes and is declared dead; the tenant's next request activates it elsewhere,
        // whose claim moves the epoch on (the claim does not touch the held table).
        var other = (zombie + 1) % nodes.Count;
        using var toOther = nodes.Client(other, tenant.Ingest);
        toOther.Timeout = TimeSpan.FromMinutes(3);
        var moved = await Eventually.Until(async () =>
        {
            var send = SendQuietly(toOther, "after");
            await Task.Delay(500);
            return nodes.Owner(tenant.Id).Epoch;
        }, e => e > epoch, "the tenant to be claimed by another node", Handover);
        Assert.True(moved > epoch);
        await hold.CommitAsync();
        // Thawed, the old owner carries on with its commit, which the fence refuses: its request fails, nothing of it is recorded.
        nodes.Thaw(zombie);
        using var answer = await pending;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        Assert.Contains("moved", await answer.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        await Eventually.Until(() => Ledger.Read(nodes, tenant.Id).Decisions.ContainsKey("after"), "the new owner to record 'after'", Handover);
        var ledger = Ledger.Read(nodes, tenant.Id);
        Assert.False(ledger.Decisions.ContainsKey("pending"), "the frozen owner's commit reached the ledger after the tenant moved");
    }

    [Fact]
    public async Task RollingRestart_UnderLoad_LosesNothingAcknowledged()
    {
        var (nodes, tenant) = await StartAsync();
        await using var _ = nodes;
        var traffic = new Traffic(nodes, tenant);
        traffic.Start();
        await traffic.MoreAsync(200);
        for (var i = 0; i < nodes.Count; i++)
        {
            var down = i;
            traffic.Usable = n => n != down;
            await nodes.StopAsync(down, TimeSpan.FromMinutes(1));
            await traffic.MoreAsync(100, Handover);
            await nodes.StartNodeAsync(down);
            traffic.Usable = _ => true;
            await nodes.WaitMembersAsync(nodes.Count);
            await traffic.MoreAsync(100, Handover);
        }
        await traffic.StopAsync(TimeSpan.FromMinutes(2));
        Ledger.Read(nodes, tenant.Id).AssertHolds(traffic, "after a rolling restart");
    }

    private static bool WaitingOnLock(ClusterNodes nodes)
    {
        using var connection = nodes.Open();
        using var command = new NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'tally' AND wait_event_type = 'Lock';", connection);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private static async Task SendQuietly(HttpClient client, string id)
    {
        try
        {
            using var _ = await client.PostAsJsonAsync("/api/v1/events", new[] { new { id, user = "cid", device = "laptop", app = "sales", action = "open-app" } });
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
        }
    }

    [Fact]
    public async Task Stranger_WithAnotherCertificate_IsNotAdmitted()
    {
        var nodes = await ClusterNodes.StartAsync(postgres.Cluster, count: 2);
        await using var _ = nodes;
        var acme = await nodes.CreateTenantAsync("acme");
        // Same database, same cluster id, same flags: only the certificate differs.
        var (stranger, siloPort) = nodes.LaunchStranger(ClusterNodes.MakeCertificate(Path.Combine(nodes.Dir, "stranger-cert")));
        using var __ = stranger;

        // It writes itself into the membership table as joining, but no node completes a TLS handshake with it, so it
        // cannot check its connections to them and never becomes a member; its front never opens.
        await Eventually.Until(() => Task.FromResult(stranger.Output), o => o.Contains("Failed to get ping responses", StringComparison.Ordinal),
            "the stranger to find it cannot reach the nodes", TimeSpan.FromSeconds(60), o => o);
        using (var connection = nodes.Open())
        using (var command = new NpgsqlCommand("SELECT count(*) FILTER (WHERE status = 3), count(*) FROM orleans_nodes WHERE port = @port", connection))
        {
            command.Parameters.AddWithValue("port", siloPort);
            using var reader = command.ExecuteReader();
            Assert.True(reader.Read());
            Assert.Equal(0L, reader.GetInt64(0)); // never active
            Assert.Equal(1L, reader.GetInt64(1)); // but it did try: the refusal is the certificate's doing
        }
        await Assert.ThrowsAsync<HttpRequestException>(() => stranger.Http.GetAsync("/health/ready"));
        await nodes.WaitMembersAsync(2, timeout: TimeSpan.FromSeconds(5));
        // The members still serve the tenant through either node.
        for (var i = 0; i < nodes.Count; i++)
        {
            using var client = nodes.Client(i, acme.Ingest);
            var answer = await client.SendEventsAsync(new { id = $"after-stranger-{i}", user = "ann", device = "laptop", app = "sales", action = "open-app" });
            Assert.Equal(1, answer.GetArrayLength());
        }
    }
}
