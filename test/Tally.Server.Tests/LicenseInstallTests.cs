using System.Net;
using System.Net.Http.Json;

namespace Tally.Server.Tests;

/// <summary>
/// Installing a license (issue "Hardening"): an earlier issue of a license never replaces a later one, one license
/// serves one tenant, and each is allowed only by the operator's deliberate setting.
/// </summary>
public sealed class LicenseInstallTests
{
    private static async Task<HttpResponseMessage> InstallAsync(TestServer server, TenantKeys tenant, string key)
    {
        using var admin = server.Client(tenant.Admin);
        return await admin.PutAsJsonAsync("/api/v1/license", new { key });
    }

    /// <summary>The installed license's included minutes: tells which issue is in force.</summary>
    private static async Task<long> IncludedMinutesAsync(TestServer server, TenantKeys tenant)
    {
        using var read = server.Client(tenant.Read);
        return (await (await read.GetAsync("/api/v1/license")).Json()).GetProperty("includedMinutes").GetInt64();
    }

    [Fact]
    public async Task Install_EarlierIssueOfTheSameLicense_409RollbackAndTheLaterStays()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        var january = server.Vendor.Issue(TestServer.Terms(1, 1000) with { LicenseId = "L-acme", IssuedAt = TestServer.Start.AddDays(-60) });
        var march = server.Vendor.Issue(TestServer.Terms(5, 1000) with { LicenseId = "L-acme", IssuedAt = TestServer.Start.AddDays(-1) });

        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, acme, january)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, acme, march)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, acme, march)).StatusCode); // the same key again changes nothing
        var refused = await InstallAsync(server, acme, january);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var problem = await refused.Json();
        Assert.Equal("rollback", problem.GetProperty("reason").GetString());
        Assert.Contains("Tally:AllowLicenseRollback", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(5000, await IncludedMinutesAsync(server, acme));

        // Another license id in between does not make the old issue of the first one installable.
        var other = server.Vendor.Issue(TestServer.Terms(2, 1000) with { LicenseId = "L-acme-2" });
        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, acme, other)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await InstallAsync(server, acme, january)).StatusCode);
    }

    [Fact]
    public async Task Install_LicenseHeldByAnotherTenant_409WithoutNamingIt()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        var globex = await server.TenantAsync("globex");
        var key = server.Vendor.Issue(TestServer.Terms(1, 1000) with { LicenseId = "L-shared" });
        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, acme, key)).StatusCode);

        var refused = await InstallAsync(server, globex, key);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var problem = await refused.Json();
        Assert.Equal("installed-elsewhere", problem.GetProperty("reason").GetString());
        Assert.DoesNotContain("acme", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var globexAdmin = server.Client(globex.Admin);
        Assert.Equal(HttpStatusCode.NotFound, (await globexAdmin.GetAsync("/api/v1/license")).StatusCode);
    }

    [Fact]
    public async Task Install_ConcurrentOnTwoTenants_ExactlyOneHoldsTheLicense()
    {
        await using var server = await TestServer.StartAsync();
        var tenants = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => server.TenantAsync($"t{i}")));
        var key = server.Vendor.Issue(TestServer.Terms(1, 1000) with { LicenseId = "L-race" });
        var answers = await Task.WhenAll(tenants.Select(t => InstallAsync(server, t, key)));
        Assert.Equal(1, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        Assert.Equal(5, answers.Count(a => a.StatusCode == HttpStatusCode.Conflict));
    }

    [Fact]
    public async Task Install_OperatorAllowsRollbackAndSharing_BothAccepted()
    {
        await using var server = await TestServer.StartAsync(extra: ["--Tally:AllowLicenseRollback=true", "--Tally:AllowSharedLicenses=true"]);
        var acme = await server.TenantAsync("acme");
        var globex = await server.TenantAsync("globex");
        var older = server.Vendor.Issue(TestServer.Terms(1, 1000) with { LicenseId = "L-x", IssuedAt = TestServer.Start.AddDays(-60) });
        var newer = server.Vendor.Issue(TestServer.Terms(2, 1000) with { LicenseId = "L-x", IssuedAt = TestServer.Start.AddDays(-1) });
        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, acme, newer)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, acme, older)).StatusCode);
        Assert.Equal(1000, await IncludedMinutesAsync(server, acme));
        Assert.Equal(HttpStatusCode.OK, (await InstallAsync(server, globex, newer)).StatusCode);
    }

    [Fact]
    public async Task Allocations_TwentyConcurrentUserPuts_EveryRowKept()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => admin.PutAsJsonAsync($"/api/v1/users/u{i:D2}", new { capMinutes = 60 + i })));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        var plan = await (await admin.GetAsync("/api/v1/allocations")).Json();
        var caps = plan.GetProperty("users").EnumerateArray().ToDictionary(u => u.GetProperty("user").GetString()!, u => u.GetProperty("capMinutes").GetInt32());
        Assert.Equal(Enumerable.Range(0, 20).ToDictionary(i => $"u{i:D2}", i => 60 + i), caps);
    }
}
