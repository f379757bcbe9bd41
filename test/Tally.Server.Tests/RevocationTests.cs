using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Tally.Storage;

namespace Tally.Server.Tests;

/// <summary>Revocation is final: once the revoke has answered, no request authenticates with that key again, however its first use raced the revoke.</summary>
public sealed class RevocationTests
{
    [Fact]
    public async Task Revoke_WhileFirstUseHoldsAValidLookup_KeyRefusedFromThenOn()
    {
        var hold = new HoldPoint();
        await using var server = await TestServer.StartWithAsync(b => LedgerHook.Install(b, hold.After));
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        var issued = await (await admin.PostAsJsonAsync("/api/v1/api-keys", new { role = "read" })).Json();
        var id = issued.GetProperty("id").GetString()!;
        var key = issued.GetProperty("key").GetString()!;

        // The key's first use reads the ledger (valid, not revoked) and is held there, before it caches that answer.
        hold.Arm((method, _, result) => method == nameof(ILedgerStore.FindApiKey) && result is ApiKeyRecord { Revoked: null } r && r.Id == id);
        using var client = server.Client(key);
        var firstUse = client.GetAsync("/api/v1/usage/summary");
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/api-keys/{id}")).StatusCode);
        hold.Release();

        // The held request finished authenticating after the revoke answered, so it is refused too.
        Assert.Equal(HttpStatusCode.Unauthorized, (await firstUse).StatusCode);
        for (var i = 0; i < 3; i++)
        {
            var later = await client.GetAsync("/api/v1/usage/summary");
            Assert.Equal(HttpStatusCode.Unauthorized, later.StatusCode);
            Assert.Equal("Bearer", later.Headers.WwwAuthenticate.ToString());
        }
        using var dashboard = server.Client(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await dashboard.PostAsJsonAsync("/dashboard/session", new { key })).StatusCode);
        // The key is revoked in the ledger, so a restart agrees.
        var keys = await (await admin.GetAsync("/api/v1/api-keys")).Json();
        Assert.Contains(keys.EnumerateArray(), k => k.GetProperty("id").GetString() == id && k.TryGetProperty("revoked", out var at) && at.ValueKind == System.Text.Json.JsonValueKind.String);
    }

    [Fact]
    public async Task Revoke_RacingManyConcurrentFirstUses_NoLaterUseAuthenticates()
    {
        // Over a real SQLite ledger, a thousand times (the race this guards against lost about 1 in 12 here): several threads use a fresh key for the first time while
        // another revokes it; after the revoke returns, the key must resolve to nobody.
        var dir = Directory.CreateTempSubdirectory("tally-revoke-").FullName;
        try
        {
            using var store = new SqliteLedgerStore(Path.Combine(dir, "tally.db"), SqliteSynchronous.Normal);
            store.Initialize();
            store.CreateTenant(new TenantRecord("acme", "Acme", TestServer.Start));
            var keys = new ApiKeys(store, new FakeTimeProvider(TestServer.Start));
            const int Trials = 1_000;
            const int Users = 3;
            var stillValid = 0;
            for (var trial = 0; trial < Trials; trial++)
            {
                var (id, key) = keys.Issue("acme", ApiRole.Read);
                using var start = new Barrier(Users + 1);
                var users = Enumerable.Range(0, Users).Select(_ => Task.Factory.StartNew(() =>
                {
                    start.SignalAndWait();
                    return keys.Resolve(key);
                }, TaskCreationOptions.LongRunning)).ToArray();
                start.SignalAndWait();
                Assert.True(keys.Revoke(id));
                await Task.WhenAll(users);
                if (keys.Resolve(key) is not null)
                {
                    stillValid++;
                }
            }
            Assert.Equal(0, stillValid);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Revoke_ThroughAnotherClusterNode_RefusedHereWithinTheRecheck()
    {
        // Two nodes' key caches over one ledger (a SQLite file stands in for the shared PostgreSQL: the cache is what is
        // under test). A revocation through one node cannot sweep the other's memory; the other reads the key again.
        var dir = Directory.CreateTempSubdirectory("tally-revoke-cluster-").FullName;
        try
        {
            using var store = new SqliteLedgerStore(Path.Combine(dir, "tally.db"), SqliteSynchronous.Normal);
            store.Initialize();
            store.CreateTenant(new TenantRecord("acme", "Acme", TestServer.Start));
            var time = new FakeTimeProvider(TestServer.Start);
            var clustered = Microsoft.Extensions.Options.Options.Create(new TallyOptions { Cluster = new ClusterSettings { Enabled = true } });
            var here = new ApiKeys(store, time, clustered);
            var there = new ApiKeys(store, time, clustered);
            var alone = new ApiKeys(store, time); // a single node: nothing else revokes behind its back
            var (id, key) = there.Issue("acme", ApiRole.Read);
            Assert.NotNull(here.Resolve(key));
            Assert.NotNull(alone.Resolve(key));

            Assert.True(there.Revoke(id));
            Assert.Null(there.Resolve(key));
            time.Advance(ApiKeys.ClusterRecheck - TimeSpan.FromMilliseconds(1));
            Assert.NotNull(here.Resolve(key)); // still within the recheck: the documented window
            time.Advance(TimeSpan.FromMilliseconds(1));

            Assert.Null(here.Resolve(key));
            Assert.NotNull(alone.Resolve(key)); // the cache a cluster node must not keep
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
