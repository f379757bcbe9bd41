using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.Server.Tests;

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
    public const string Name = "postgres";
}

/// <summary>
/// The ledger's guarantees end to end, on BOTH stores: the real <c>tally serve</c> executable killed with SIGKILL under
/// load and restarted on the same ledger; a clean restart rebuilding the meter; and the race for the last units.
/// SQLite runs in a temp folder; PostgreSQL in a fresh schema of the throwaway (or TALLY_TEST_POSTGRES) server.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CrashTests(PostgresCluster cluster) : IDisposable
{
    private const string AdminKey = "crash-test-bootstrap-key";
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-crash-").FullName;
    private readonly StoreDatabases _databases = new(cluster, "srv");

    public void Dispose()
    {
        _databases.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string? Database(string store) => _databases.For(store);

    /// <summary>The real executable, built next to the tests by the project reference to Tally.Cli.</summary>
    private static ProcessStartInfo Tally(params string[] args) => TallyProcess.StartInfo(args);

    private ProcessStartInfo Serve(int port, string publicKeyFile, string? database) =>
        Tally(["serve", "--urls", $"http://127.0.0.1:{port}", "--data", Path.Combine(_dir, "data"),
            .. (database is null ? Array.Empty<string>() : ["--database", database]),
            "--public-key", publicKeyFile, $"--TALLY_ADMIN_KEY={AdminKey}", "--Logging:LogLevel:Default=Warning"]);

    /// <summary>Runs a <c>tally serve</c> that is expected to refuse to start; its exit code and everything it printed.</summary>
    private async Task<(int ExitCode, string Output)> ServeExpectingRefusalAsync(string publicKeyFile)
    {
        using var process = Process.Start(Serve(Ports.Free(), publicKeyFile, null))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail("the second server started instead of refusing: " + await stdout + await stderr);
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    private static async Task<HttpClient> BootstrapClientAsync(ServerProcess child)
    {
        var admin = new HttpClient { BaseAddress = child.Address };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/health/ready")).StatusCode);
        return admin;
    }

    /// <summary>A <c>tally serve</c> child on a free port, ready (/health/ready answered 200).</summary>
    private Task<ServerProcess> StartChildAsync(string publicKeyFile, string? database)
    {
        var port = Ports.Free();
        return ServerProcess.StartAsync(Serve(port, publicKeyFile, database), port);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Sigkill_UnderLoad_RestartAndResend_EveryAckedEventOnceNoDoubleCharge(string store)
    {
        var database = Database(store);
        var vendor = Vendor.Create(_dir);
        var now = TimeProvider.System.GetUtcNow();
        var terms = TestServer.Terms(100, 1000) with { ValidFrom = now.AddDays(-1), ValidTo = now.AddDays(60), IssuedAt = now.AddDays(-1) };
        const int total = 2400;
        const int batchSize = 20;
        var events = Enumerable.Range(0, total).Select(i => new { id = $"ev-{i}", user = $"user-{i}", app = $"app-{i % 7}", action = "open-app" }).ToArray();
        var batches = events.Chunk(batchSize).ToArray();
        string ingestKey;
        var acked = new ConcurrentDictionary<string, string>();

        using (var child = await StartChildAsync(vendor.PublicKeyFile, database))
        {
            using var admin = new HttpClient { BaseAddress = child.Address };
            admin.DefaultRequestHeaders.Authorization = new("Bearer", AdminKey);
            (await admin.PostAsJsonAsync("/api/v1/tenants", new { id = "acme", name = "Acme" })).EnsureSuccessStatusCode();
            var adminKey = (await (await admin.PostAsJsonAsync("/api/v1/tenants/acme/api-keys", new { role = "admin" })).Json()).GetProperty("key").GetString()!;
            ingestKey = (await (await admin.PostAsJsonAsync("/api/v1/tenants/acme/api-keys", new { role = "ingest" })).Json()).GetProperty("key").GetString()!;
            using var tenantAdmin = new HttpClient { BaseAddress = child.Address };
            tenantAdmin.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
            Assert.Equal(HttpStatusCode.OK, (await tenantAdmin.PutAsJsonAsync("/api/v1/license", new { key = vendor.Issue(terms) })).StatusCode);

            using var ingest = new HttpClient { BaseAddress = child.Address };
            ingest.DefaultRequestHeaders.Authorization = new("Bearer", ingestKey);
            var next = -1;
            var killed = 0;
            async Task Sender()
            {
                while (true)
                {
                    var i = Interlocked.Increment(ref next);
                    if (i >= batches.Length)
                    {
                        return;
                    }
                    try
                    {
                        var response = await ingest.PostAsJsonAsync("/api/v1/events", batches[i]);
                        if (response.StatusCode != HttpStatusCode.OK)
                        {
                            continue;
                        }
                        var results = await response.Json();
                        for (var j = 0; j < batches[i].Length; j++)
                        {
                            acked[batches[i][j].id] = results[j].Decision();
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or IOException)
                    {
                        // The server died mid-request: this batch is unacknowledged.
                    }
                    if (acked.Count >= total / 3 && Interlocked.Exchange(ref killed, 1) == 0)
                    {
                        child.Process.Kill(); // SIGKILL on Unix: no shutdown hooks, no flush.
                    }
                }
            }
            await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(Sender)));
            child.Process.WaitForExit();
            Assert.Equal(1, killed);
        }
        Assert.InRange(acked.Count, total / 3, total - 1);
        Assert.All(acked.Values, d => Assert.Equal("charged", d));

        using (var child = await StartChildAsync(vendor.PublicKeyFile, database))
        {
            using var ingest = new HttpClient { BaseAddress = child.Address };
            ingest.DefaultRequestHeaders.Authorization = new("Bearer", ingestKey);
            var resent = new Dictionary<string, string>();
            foreach (var batch in batches)
            {
                var results = await ingest.SendEventsAsync(batch);
                for (var j = 0; j < batch.Length; j++)
                {
                    resent[batch[j].id] = results[j].Decision();
                }
            }
            // Every acknowledged event survived the kill: resending it is a duplicate, never a second charge.
            Assert.All(acked.Keys, id => Assert.Equal("duplicate", resent[id]));
            Assert.All(resent.Values, d => Assert.Contains(d, new[] { "charged", "duplicate" }));

            using var read = new HttpClient { BaseAddress = child.Address };
            read.DefaultRequestHeaders.Authorization = new("Bearer", ingestKey);
            using var admin = new HttpClient { BaseAddress = child.Address };
            admin.DefaultRequestHeaders.Authorization = new("Bearer", AdminKey);
            var readKey = (await (await admin.PostAsJsonAsync("/api/v1/tenants/acme/api-keys", new { role = "read" })).Json()).GetProperty("key").GetString()!;
            read.DefaultRequestHeaders.Authorization = new("Bearer", readKey);
            var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
            // One distinct user per event: exactly one unit each, and the pool equals the sum of the units.
            Assert.Equal(total, summary.GetProperty("units").GetInt64());
            Assert.Equal(total * 6, summary.GetProperty("consumedMinutes").GetInt64());
            Assert.Equal(total, summary.GetProperty("events").GetInt64());
            var users = new HashSet<string>();
            string? href = "/api/v1/licenses/consumption?limit=200";
            long minutes = 0;
            while (href is not null)
            {
                var page = await (await read.GetAsync(href)).Json();
                foreach (var record in page.GetProperty("data").EnumerateArray())
                {
                    Assert.True(users.Add(record.GetProperty("userId").GetString()!), "a unit was charged twice");
                    minutes += record.GetProperty("minutesUsed").GetInt64();
                }
                href = page.GetProperty("links").TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.Object
                    ? next.GetProperty("href").GetString() : null;
            }
            Assert.Equal(total, users.Count);
            Assert.Equal(total * 6, minutes);
        }
    }

    [Fact]
    public async Task Start_BadOptions_ExitsWithClearMessage()
    {
        using var process = Process.Start(Tally("serve", "--urls", "http://127.0.0.1:0", "--data", _dir, "--public-key", "/nonexistent/key.pem"))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("/nonexistent/key.pem", stdout + await stderr);
    }

    [Theory]
    [InlineData("a", "TALLY_ADMIN_KEY is 1 character; a bootstrap key must have at least 24")]
    [InlineData("change-me-bootstrap-key", "TALLY_ADMIN_KEY is 23 characters; a bootstrap key must have at least 24")]
    [InlineData("000000000000000000000000000000000000", "TALLY_ADMIN_KEY repeats too few characters")]
    [InlineData("correct horse battery staple 1234", "TALLY_ADMIN_KEY contains whitespace")]
    public async Task Start_WeakAdminKey_ExitsNamingTheSetting_LedgerNeverOpened(string key, string message)
    {
        var data = Path.Combine(_dir, "weak");
        var start = Tally("serve", "--urls", "http://127.0.0.1:0", "--data", data);
        start.Environment["TALLY_ADMIN_KEY"] = key;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout + await stderr;
        Assert.Equal(2, process.ExitCode);
        Assert.Contains(message, output);
        Assert.DoesNotContain("   at ", output);
        Assert.False(File.Exists(Path.Combine(data, "tally.db")), "the ledger was opened with a weak key");
    }

    [Fact]
    public async Task Serve_SecondServerOnTheSameDataFolder_RefusesNamingTheFirst_AndSigkillFreesTheFolder()
    {
        var vendor = Vendor.Create(_dir);
        using (var first = await StartChildAsync(vendor.PublicKeyFile, null))
        {
            using var admin = await BootstrapClientAsync(first);
            (await admin.PostAsJsonAsync("/api/v1/tenants", new { id = "acme", name = "Acme" })).EnsureSuccessStatusCode();

            var (exitCode, output) = await ServeExpectingRefusalAsync(vendor.PublicKeyFile);
            Assert.Equal(2, exitCode);
            Assert.Contains($"The data folder {Path.Combine(_dir, "data")} is in use by another Tally server (pid {first.Process.Id} on host {Environment.MachineName}, started ", output);
            Assert.DoesNotContain("Unhandled exception", output);
            Assert.DoesNotContain("   at ", output);

            // The first server never noticed: it still serves its ledger.
            var tenants = await (await admin.GetAsync("/api/v1/tenants")).Json();
            Assert.Equal("acme", Assert.Single(tenants.EnumerateArray()).GetProperty("id").GetString());
            first.Process.Kill(); // SIGKILL: no shutdown code runs, the OS alone releases the lock.
            await first.Process.WaitForExitAsync();
        }
        using var restarted = await StartChildAsync(vendor.PublicKeyFile, null);
        using var again = await BootstrapClientAsync(restarted);
        var after = await (await again.GetAsync("/api/v1/tenants")).Json();
        Assert.Equal("acme", Assert.Single(after.EnumerateArray()).GetProperty("id").GetString());
        Assert.StartsWith($"pid {restarted.Process.Id} on host ", await File.ReadAllTextAsync(Path.Combine(_dir, "data", "tally.lock.owner")));
    }

    [Fact]
    public async Task Serve_ReadOnlyDataFolderAfterSigkill_RefusesToStartWithClearMessage()
    {
        ReadOnlyFolder.AssertSupported(_dir);
        var vendor = Vendor.Create(_dir);
        var data = Path.Combine(_dir, "data");
        using (var child = await StartChildAsync(vendor.PublicKeyFile, null))
        {
            using var admin = await BootstrapClientAsync(child);
            (await admin.PostAsJsonAsync("/api/v1/tenants", new { id = "acme", name = "Acme" })).EnsureSuccessStatusCode();
            child.Process.Kill();
            await child.Process.WaitForExitAsync();
        }
        // What the crash left: the WAL and its index next to the database, in a folder nobody may write any more.
        Assert.True(File.Exists(Path.Combine(data, "tally.db-wal")) && File.Exists(Path.Combine(data, "tally.db-shm")));
        using (new ReadOnlyFolder(data))
        {
            var (exitCode, output) = await ServeExpectingRefusalAsync(vendor.PublicKeyFile);
            Assert.Equal(2, exitCode);
            Assert.Contains($"The data folder {data} is not writable", output);
            Assert.DoesNotContain("Unhandled exception", output);
            Assert.DoesNotContain("   at ", output);
        }
        // Writable again: it starts, with what was committed before the kill.
        using var restarted = await StartChildAsync(vendor.PublicKeyFile, null);
        using var again = await BootstrapClientAsync(restarted);
        Assert.Equal("acme", Assert.Single((await (await again.GetAsync("/api/v1/tenants")).Json()).EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Start_ReadOnlyPostgres_RefusesWithClearMessage()
    {
        var database = Database("postgres")!;
        await (await TestServer.StartOnAsync(database)).DisposeAsync();
        // A standby or a database set read-only: every read works, no write does.
        var e = await Assert.ThrowsAsync<Tally.Storage.LedgerOpenException>(() => TestServer.StartOnAsync(database + ";Options=-c default_transaction_read_only=on"));
        Assert.Contains("read-only transaction", e.Message);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Race_200FirstEngagementsOnTenUnitsLeft_ExactlyTenCharged(string store)
    {
        await using var server = await TestServer.StartOnAsync(Database(store));
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 72)); // 12 units
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "warm1", app = "a", action = "open-app" }, new { user = "warm2", app = "a", action = "open-app" });

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
            await (await ingest.PostAsJsonAsync("/api/v1/access", new { id = $"race-{i}", user = $"user{i}", app = "a", action = "open-app" })).Json()));
        Assert.Equal(10, results.Count(r => r.Decision() == "charged"));
        Assert.Equal(190, results.Count(r => r.TryGetProperty("reason", out var reason) && reason.GetString() == "pool-exhausted"));

        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(72, summary.GetProperty("consumedMinutes").GetInt64());
        Assert.Equal(0, summary.GetProperty("remainingMinutes").GetInt64());
        Assert.Equal(12, summary.GetProperty("units").GetInt64());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Restart_RebuildsMeterFromLedger_CoveredStaysCoveredIdsStayDuplicatesPoolKept(string store)
    {
        var server = await TestServer.StartOnAsync(Database(store));
        try
        {
            var acme = await server.TenantAsync("acme");
            await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 60)); // 10 units
            using (var ingest = server.Client(acme.Ingest))
            {
                Assert.Equal("charged", (await ingest.SendEventsAsync(new { id = "e1", user = "ann", app = "sales", action = "open-app" }))[0].Decision());
                var others = await ingest.SendEventsAsync([.. Enumerable.Range(0, 8).Select(i => new { id = $"o{i}", user = $"u{i}", app = "sales", action = "open-app" })]);
                Assert.All(others.EnumerateArray(), r => Assert.Equal("charged", r.Decision()));
            }
            server = await server.RestartAsync();
            server.Time.Advance(TimeSpan.FromMinutes(2));
            using var again = server.Client(acme.Ingest);
            var results = await again.SendEventsAsync(
                new { id = "e1", user = "ann", app = "sales", action = "open-app" },
                new { id = "e2", user = "ann", app = "sales", action = "select" },
                new { id = "e2", user = "ann", app = "sales", action = "select" },
                new { id = "e3", user = "zed", app = "sales", action = "open-app" },
                new { id = "e4", user = "yan", app = "sales", action = "open-app" });
            Assert.Equal(["duplicate", "covered", "duplicate", "charged", "denied"], results.EnumerateArray().Select(r => r.Decision()));
            Assert.Equal(TestServer.Start.AddMinutes(6), results[1].GetProperty("unitEnd").GetDateTimeOffset());
            using var read = server.Client(acme.Read);
            var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
            Assert.Equal((10L, 60L), (summary.GetProperty("units").GetInt64(), summary.GetProperty("consumedMinutes").GetInt64()));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
