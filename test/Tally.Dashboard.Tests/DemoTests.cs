using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Tally.Server.Demo;
using Tally.Storage;

namespace Tally.Dashboard.Tests;

/// <summary><c>tally serve --demo</c> without a browser: set up once, trusted only for its own tenant.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task Demo_Restarted_KeepsItsTenantHistoryAndKey_WithoutImportingAgain()
    {
        var dir = Directory.CreateTempSubdirectory("tally-demo-").FullName;
        try
        {
            string key;
            string ingestKey;
            long events;
            await using (var first = await DashboardServer.StartAsync(dir, demo: true))
            {
                key = await first.DemoReadKeyAsync();
                events = first.Services.GetRequiredService<ILedgerStore>().EventCount(DemoSetup.TenantId);
                Assert.True(events > 10_000, $"last month and this month so far were imported ({events} events)");
                using var api = first.Client(key);
                var summary = await api.GetJsonAsync("/api/v1/usage/summary");
                Assert.Equal(10_000, summary.GetProperty("includedMinutes").GetInt64());
                // The history keeps its own times: units spread over the month, not stamped at start-up.
                var timeline = await api.GetJsonAsync("/api/v1/usage/timeline?granularity=day");
                Assert.True(timeline.GetProperty("buckets").EnumerateArray().Count(b => b.GetProperty("units").GetInt64() > 0) >= 15);
                // The ingest key is kept beside the read key, owner-only, and lets an application ask for access.
                var ingest = first.Services.GetRequiredService<DemoState>().IngestKey;
                Assert.NotNull(ingest);
                var ingestFile = Path.Combine(dir, "data", "demo", "ingest-key.txt");
                Assert.Equal(ingest, File.ReadAllText(ingestFile).Trim());
                if (!OperatingSystem.IsWindows())
                {
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ingestFile));
                }
                using var app = first.Client(ingest);
                var access = await app.PostAsync("/api/v1/access", new StringContent(
                    $$"""{"id":"demo-test-1","user":"{{DemoSetup.UserName(8)}}","device":"d1","app":"{{DemoSetup.AppName(1)}}","action":"open-app"}""",
                    System.Text.Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, access.StatusCode);
                Assert.Contains("\"allowed\":true", await access.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                // The read key may not send events.
                var refused = await api.PostAsync("/api/v1/access", new StringContent(
                    $$"""{"id":"demo-test-2","user":"{{DemoSetup.UserName(8)}}","device":"d1","app":"{{DemoSetup.AppName(1)}}","action":"open-app"}""",
                    System.Text.Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
                ingestKey = ingest;
                events = first.Services.GetRequiredService<ILedgerStore>().EventCount(DemoSetup.TenantId);
                await first.StopAsync();
            }
            // DashboardServer deletes its folder on dispose only when it made it; this one is ours, so it survives.
            await using var second = await DashboardServer.StartAsync(dir, demo: true);
            Assert.Equal(key, await second.DemoReadKeyAsync());
            Assert.Equal(ingestKey, second.Services.GetRequiredService<DemoState>().IngestKey);
            Assert.Equal(events, second.Services.GetRequiredService<ILedgerStore>().EventCount(DemoSetup.TenantId));
            Assert.Single(second.Services.GetRequiredService<ILedgerStore>().Tenants(), t => t.Id == DemoSetup.TenantId);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task DemoKey_IsTrustedOnlyForTheDemoTenant()
    {
        await using var server = await DashboardServer.StartAsync(demo: true);
        await server.DemoReadKeyAsync();
        var keys = await server.LicensedTenantAsync("acme");
        // A license signed with the demo key is refused for any other tenant: it is checked against --public-key.
        var demoLicense = server.Services.GetRequiredService<ILedgerStore>().GetLicense(DemoSetup.TenantId)!.Key;
        using var admin = server.Client(keys.Admin);
        var response = await admin.PutAsync("/api/v1/license",
            new StringContent($$"""{"key":"{{demoLicense}}"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("bad-signature", await response.Content.ReadAsStringAsync());
    }
}
