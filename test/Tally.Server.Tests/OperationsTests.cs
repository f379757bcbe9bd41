using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Tally.Storage;

namespace Tally.Server.Tests;

public sealed class OperationsTests
{
    [Fact]
    public async Task OpenApi_DocumentListsEndpoints_AndReferencePageServes()
    {
        await using var server = await TestServer.StartAsync();
        using var anonymous = server.Client(null);
        var document = await anonymous.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/v1/events", document);
        Assert.Contains("/api/v1/licenses/consumption", document);
        var page = await anonymous.GetAsync("/scalar/v1");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("text/html", page.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Metrics_PrometheusText_CountsDecisionsAndPool()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }, new { user = "ann", app = "a", action = "select" });
        using var anonymous = server.Client(null);
        var text = await anonymous.GetStringAsync("/metrics");
        Assert.Contains("tally_decisions", text);
        Assert.Contains("decision=\"charged\"", text);
        Assert.Contains("tally_pool_consumed", text);
        Assert.Contains("tenant=\"acme\"", text);
        Assert.Contains("http_server_request_duration", text);
    }

    [Fact]
    public async Task Start_NewDataFolder_GeneratesBootstrapKeyOnce_AndItWorksAfterRestart()
    {
        var dir = Directory.CreateTempSubdirectory("tally-boot-").FullName;
        try
        {
            var output = new StringWriter();
            var original = Console.Out;
            Console.SetOut(output);
            try
            {
                await using (var first = TallyServer.Build(["--urls", "http://127.0.0.1:0", "--data", dir, "--Logging:LogLevel:Default=None"]))
                {
                    await first.StartAsync();
                    await first.StopAsync();
                }
            }
            finally
            {
                Console.SetOut(original);
            }
            var line = Assert.Single(output.ToString().Split('\n'), l => l.Contains("Bootstrap admin key", StringComparison.Ordinal));
            var key = line.Split(": ")[1].Trim();
            Assert.StartsWith("tally_", key);

            output = new StringWriter();
            Console.SetOut(output);
            WebApplication second;
            try
            {
                second = TallyServer.Build(["--urls", "http://127.0.0.1:0", "--data", dir, "--Logging:LogLevel:Default=None"]);
                await second.StartAsync();
            }
            finally
            {
                Console.SetOut(original);
            }
            await using (second)
            {
                Assert.DoesNotContain("Bootstrap admin key", output.ToString());
                using var client = new HttpClient { BaseAddress = new Uri(second.Urls.First()) };
                client.DefaultRequestHeaders.Authorization = new("Bearer", key);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/tenants")).StatusCode);
                await second.StopAsync();
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Ready_LedgerBecomesUnwritable_503AndWritesRefused_UntilWritableAgain()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        using var anonymous = server.Client(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);

        using (new ReadOnlyFolder(Path.Combine(server.Dir, "data"), keepSharedMemory: true))
        {
            server.Time.Advance(LedgerHealth.CacheFor);
            var ready = await anonymous.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("cannot be written", (await ready.Json()).GetProperty("detail").GetString());
            // Readiness tells the truth: the writes it warns about do fail, and nothing of them is applied.
            var refused = await ingest.PostAsJsonAsync("/api/v1/events", new[] { new { id = "e1", user = "ann", app = "a", action = "open-app" } });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }
        server.Time.Advance(LedgerHealth.CacheFor);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);
        Assert.Equal("charged", (await ingest.SendEventsAsync(new { id = "e1", user = "ann", app = "a", action = "open-app" }))[0].Decision());
    }

    [Fact]
    public async Task Start_DataFolderHeldByAServerInThisProcess_RefusedNamingIt_FreeAfterStop()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var e = await Assert.ThrowsAsync<LedgerOpenException>(() => TestServer.StartAsync(server.Dir, vendor: server.Vendor));
            Assert.Contains($"is in use by another Tally server (pid {Environment.ProcessId} on host {Environment.MachineName}, started 2026-03-10T09:00:00Z)", e.Message);
            server = await server.RestartAsync();
            using var anonymous = server.Client(null);
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
