using System.Net;
using System.Net.Http.Json;

namespace Tally.Server.Tests;

public sealed class DecisionTests
{
    [Fact]
    public async Task Events_Session_ChargedCoveredThenChargedAfterSixMinutes()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);

        var first = (await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app" }))[0];
        Assert.Equal("charged", first.Decision());
        Assert.Equal(TestServer.Start.AddMinutes(6), first.GetProperty("unitEnd").GetDateTimeOffset());
        Assert.Equal(TestServer.Start, first.GetProperty("time").GetDateTimeOffset());

        server.Time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal("covered", (await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "select" }))[0].Decision());
        server.Time.Advance(TimeSpan.FromMinutes(3));
        var third = (await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "select" }))[0];
        Assert.Equal("charged", third.Decision());
        Assert.Equal(TestServer.Start.AddMinutes(12), third.GetProperty("unitEnd").GetDateTimeOffset());

        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(2, summary.GetProperty("units").GetInt64());
        Assert.Equal(12, summary.GetProperty("consumedMinutes").GetInt64());
    }

    [Fact]
    public async Task Events_ClientTimeIsKeptButServerTimeDecides()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        var result = (await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app", time = "2020-01-01T00:00:00Z" }))[0];
        Assert.Equal(TestServer.Start, result.GetProperty("unitStart").GetDateTimeOffset());
    }

    [Fact]
    public async Task Events_PoolExhausted_DeniedWithRetryAfterThenResetNextMonth()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 12));
        using var ingest = server.Client(acme.Ingest);

        var results = await ingest.SendEventsAsync(
            new { user = "ann", app = "a", action = "open-app" },
            new { user = "bob", app = "a", action = "open-app" },
            new { user = "cy", app = "a", action = "open-app" });
        Assert.Equal(["charged", "charged", "denied"], results.EnumerateArray().Select(r => r.Decision()));
        Assert.Equal("pool-exhausted", results[2].GetProperty("reason").GetString());
        var nextMonth = new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(nextMonth, results[2].GetProperty("retryAfter").GetDateTimeOffset());

        // What was paid for is kept (R8): ann's running unit still covers her.
        server.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal("covered", (await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "select" }))[0].Decision());

        var access = await (await ingest.PostAsJsonAsync("/api/v1/access", new { user = "cy", app = "a", action = "select" })).Json();
        Assert.False(access.GetProperty("allowed").GetBoolean());
        Assert.Equal(nextMonth, access.GetProperty("retryAfter").GetDateTimeOffset());

        server.Time.SetUtcNow(nextMonth);
        var after = await (await ingest.PostAsJsonAsync("/api/v1/access", new { user = "cy", app = "a", action = "select" })).Json();
        Assert.True(after.GetProperty("allowed").GetBoolean());
        Assert.Equal("charged", after.GetProperty("decision").GetString());

        using var read = server.Client(acme.Read);
        var march = await (await read.GetAsync("/api/v1/usage/summary?period=2026-03")).Json();
        Assert.Equal(12, march.GetProperty("consumedMinutes").GetInt64());
        Assert.Equal(2, march.GetProperty("deniedEvents").GetInt64());
        var april = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal("2026-04", april.GetProperty("period").GetString());
        Assert.Equal(6, april.GetProperty("consumedMinutes").GetInt64());
    }

    [Fact]
    public async Task Events_Race200FirstEngagementsOnTenUnitsLeft_ExactlyTenCharged()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 72)); // 12 units
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "warm1", app = "a", action = "open-app" }, new { user = "warm2", app = "a", action = "open-app" });

        var tasks = Enumerable.Range(0, 200).Select(async i =>
        {
            var response = await ingest.PostAsJsonAsync("/api/v1/access", new { id = $"race-{i}", user = $"user{i}", app = "a", action = "open-app" });
            return await response.Json();
        }).ToList();
        var results = await Task.WhenAll(tasks);
        Assert.Equal(10, results.Count(r => r.GetProperty("decision").GetString() == "charged"));
        Assert.Equal(190, results.Count(r => r.TryGetProperty("reason", out var reason) && reason.GetString() == "pool-exhausted"));

        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(72, summary.GetProperty("consumedMinutes").GetInt64());
        Assert.Equal(0, summary.GetProperty("remainingMinutes").GetInt64());
    }

    [Fact]
    public async Task Restart_RebuildsMeter_CoveredStaysCoveredAndIdsStayDuplicates()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var acme = await server.TenantAsync("acme");
            using (var ingest = server.Client(acme.Ingest))
            {
                Assert.Equal("charged", (await ingest.SendEventsAsync(new { id = "e1", user = "ann", app = "sales", action = "open-app" }))[0].Decision());
            }
            server = await server.RestartAsync();
            server.Time.Advance(TimeSpan.FromMinutes(2));
            using var again = server.Client(acme.Ingest);
            var results = await again.SendEventsAsync(
                new { id = "e1", user = "ann", app = "sales", action = "open-app" },
                new { id = "e2", user = "ann", app = "sales", action = "select" },
                new { id = "e2", user = "ann", app = "sales", action = "select" });
            Assert.Equal(["duplicate", "covered", "duplicate"], results.EnumerateArray().Select(r => r.Decision()));
            Assert.Equal(TestServer.Start.AddMinutes(6), results[1].GetProperty("unitEnd").GetDateTimeOffset());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Restart_KeepsConnections_ScheduledReloadChargesConnectedUser()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var acme = await server.TenantAsync("acme");
            using (var ingest = server.Client(acme.Ingest))
            {
                await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app" });
            }
            server = await server.RestartAsync();
            server.Time.Advance(TimeSpan.FromMinutes(10));
            using var again = server.Client(acme.Ingest);
            var reload = (await again.SendEventsAsync(new { app = "sales", action = "scheduled-reload" }))[0];
            Assert.Equal("charged", reload.Decision());
            Assert.Equal("ann", reload.GetProperty("decisions")[0].GetProperty("user").GetString());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task License_InvalidKey_RefusedWithReason()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        var other = Vendor.Create(Directory.CreateDirectory(Path.Combine(server.Dir, "other-vendor")).FullName);
        var response = await admin.PutAsJsonAsync("/api/v1/license", new { key = other.Issue(TestServer.Terms(1, 1000)) });
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "key: bad-signature");
        Assert.Equal("bad-signature", problem.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/license")).StatusCode);
    }

    [Fact]
    public async Task Allocations_NamedUser_FreeAndNeverTouchesPool()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000) with { ProfessionalSeats = 1 });
        using var admin = server.Client(acme.Admin);
        var put = await admin.PutAsJsonAsync("/api/v1/users/pat", new { allocation = "professional" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var tooMany = await admin.PutAsJsonAsync("/api/v1/users/quinn", new { allocation = "professional" });
        await tooMany.AssertProblemAsync(HttpStatusCode.BadRequest, "users are assigned Professional seats but the license has");

        using var ingest = server.Client(acme.Ingest);
        var results = await ingest.SendEventsAsync(new { user = "pat", app = "a", action = "open-app" }, new { user = "pat", app = "a", action = "edit-sheet" },
            new { user = "ann", app = "a", action = "edit-sheet" });
        Assert.Equal(["free", "free", "denied"], results.EnumerateArray().Select(r => r.Decision()));
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(0, summary.GetProperty("consumedMinutes").GetInt64());
        var overview = await (await read.GetAsync("/api/v1/licenses/overview")).Json();
        Assert.Equal(1, overview.GetProperty("allotments")[0].GetProperty("unitsUsed").GetInt32());
    }
}
