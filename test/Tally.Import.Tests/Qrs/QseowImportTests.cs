using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Tally.Import.Tests.Qrs;

/// <summary>
/// A QSEoW site observed end to end: a source added with the API (the client certificate as the QMC exports it, the
/// site's CA to trust), stored sealed, opened and used by the server's pull against a strict QRS on loopback HTTPS.
/// </summary>
public sealed class QseowImportTests : IAsyncLifetime
{
    private readonly TestCertificates _certificates = new(TimeProvider.System.GetUtcNow());
    private QrsTestServer _site = null!;
    private TestServer _tally = null!;
    private TenantKeys _keys = null!;

    public async Task InitializeAsync()
    {
        _site = await QrsTestServer.StartWithCertificatesAsync(_certificates);
        _tally = await TestServer.StartAsync(null, null, null, "--Tally:Import:AllowPrivateTargets=true", "--Tally:Import:RetryDelay=00:00:00.020");
        _keys = await _tally.TenantAsync("site");
    }

    public async Task DisposeAsync()
    {
        await _tally.DisposeAsync();
        await _site.DisposeAsync();
        _certificates.Dispose();
    }

    [Fact]
    public async Task ACertificateSource_IsPulledThroughTheServer_AndItsUsesCountAsUnits()
    {
        var start = TestServer.Start.AddHours(-3);
        _site.Uses.Add(new TestUse(Guid.NewGuid(), start.AddMinutes(20), start, start.AddMinutes(14), "ACME", "jdoe", "s-1"));
        _site.Uses.Add(new TestUse(Guid.NewGuid(), start.AddMinutes(40), start.AddMinutes(30), start.AddMinutes(36), "ACME", "asmith", "s-2"));
        _site.Uses.Add(new TestUse(Guid.NewGuid(), start.AddMinutes(50), start.AddMinutes(45), null, "ACME", "bob", "s-3")); // still running
        _site.Professional.Add(new TestAllocation("ACME", "alice", start.AddDays(-30)));
        _site.Analyzer.Add(new TestAllocation("ACME", "carol", start.AddDays(-3)));
        const string password = "pfx-password-123";
        var pfx = Convert.ToBase64String(_certificates.Client.Export(X509ContentType.Pkcs12, password));
        using var admin = _tally.Client(_keys.Admin);
        using var added = await admin.PostAsJsonAsync("/api/v1/sources", new
        {
            id = "site", kind = "qseow", url = _site.BaseAddress.ToString(), certificate = new { pfx, password }, trustedCaPem = _certificates.Root.ExportCertificatePem(),
        });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var listed = await admin.GetStringAsync("/api/v1/sources");
        Assert.DoesNotContain(password, listed);
        Assert.DoesNotContain(pfx[..40], listed);

        using var pulled = await admin.PostAsync("/api/v1/sources/site/pull", null);
        var result = await pulled.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(result.GetProperty("added").GetInt32() == 2, result.ToString());

        var users = (await _tally.Client(_keys.Read).GetFromJsonAsync<JsonElement>("/api/v1/usage/users?period=2026-03&sort=user")).GetProperty("users")
            .EnumerateArray().Select(u => $"{u.GetProperty("user")} {u.GetProperty("units")} {u.GetProperty("minutes")}");
        // 14 minutes are three started six-minute units, 6 minutes one.
        Assert.Equal(["ACME\\asmith 1 6", "ACME\\jdoe 3 18"], users);
        Assert.All(_site.Seen, seen => Assert.True(seen.HadClientCertificate && seen.XrfkeyHeader == seen.XrfkeyParameter));

        // The site's Professional and Analyzer allocations are the tenant's seats, in Qlik's assignments and overview.
        var seats = (await _tally.Client(_keys.Read).GetFromJsonAsync<JsonElement>("/api/v1/licenses/assignments?sort=subject")).GetProperty("data")
            .EnumerateArray().Select(a => $"{a.GetProperty("subject")} {a.GetProperty("type")}");
        Assert.Equal(["ACME\\alice professional", "ACME\\carol analyzer"], seats);
        var held = (await _tally.Client(_keys.Read).GetFromJsonAsync<JsonElement>("/api/v1/licenses/overview")).GetProperty("allotments").EnumerateArray()
            .Where(a => a.GetProperty("usageClass").GetString() == "assigned").Select(a => $"{a.GetProperty("name")} {a.GetProperty("unitsUsed")}");
        Assert.Equal(["professional 1", "analyzer 1"], held);
    }
}
