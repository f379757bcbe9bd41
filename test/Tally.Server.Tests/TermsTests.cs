using System.Net.Http.Json;
using Tally.Metering;

namespace Tally.Server.Tests;

/// <summary>The license and the allocation plan govern the live meter: caps, counting mode, validity.</summary>
public sealed class TermsTests
{
    [Fact]
    public async Task UserCap_SecondUnitDeniedUserCapReached_PoolUntouched()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000));
        using var admin = server.Client(acme.Admin);
        (await admin.PutAsJsonAsync("/api/v1/users/ann", new { allocation = "capacity", capMinutes = 6 })).EnsureSuccessStatusCode();
        using var ingest = server.Client(acme.Ingest);
        Assert.Equal("charged", (await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }))[0].Decision());
        server.Time.Advance(TimeSpan.FromMinutes(7));
        var denied = (await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "select" }))[0];
        Assert.Equal("denied", denied.Decision());
        Assert.Equal("user-cap-reached", denied.GetProperty("reason").GetString());
        using var read = server.Client(acme.Read);
        Assert.Equal(6, (await (await read.GetAsync("/api/v1/usage/summary")).Json()).GetProperty("consumedMinutes").GetInt64());
    }

    [Fact]
    public async Task AppMode_TwoAppsOneDevice_TwoUnits()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000) with { Mode = CountingMode.App });
        using var ingest = server.Client(acme.Ingest);
        var results = await ingest.SendEventsAsync(
            new { user = "ann", device = "d", app = "a", action = "open-app" },
            new { user = "ann", device = "d", app = "b", action = "open-app" },
            new { user = "ann", device = "e", app = "a", action = "select" });
        Assert.Equal(["charged", "charged", "covered"], results.EnumerateArray().Select(r => r.Decision()));
    }

    [Fact]
    public async Task License_ExpiresWhileRunning_NewUnitsDeniedLicenseExpired()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000) with { ValidTo = TestServer.Start.AddHours(1) });
        using var ingest = server.Client(acme.Ingest);
        Assert.Equal("charged", (await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }))[0].Decision());
        server.Time.Advance(TimeSpan.FromHours(2));
        var late = (await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "select" }))[0];
        Assert.Equal("denied", late.Decision());
        Assert.Equal("license-expired", late.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task NoLicense_MetersOnly_EveryUnitGranted()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        var events = Enumerable.Range(0, 300).Select(i => (object)new { user = $"u{i}", app = "a", action = "open-app" }).ToArray();
        var results = await ingest.SendEventsAsync(events);
        Assert.All(results.EnumerateArray(), r => Assert.Equal("charged", r.Decision()));
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(1800, summary.GetProperty("consumedMinutes").GetInt64());
        Assert.False(summary.TryGetProperty("limitMinutes", out _)); // no pool: no limit
    }
}
