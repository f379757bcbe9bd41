using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;

namespace Tally.Server.Tests;

public sealed class LedgerFailureTests
{
    [Fact]
    public async Task Commit_Fails_503NothingAppliedAndMeterRebuiltFromLedger()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { id = "first", user = "ann", app = "a", action = "open-app" });

        // Another writer puts id "x" into the ledger behind the server's back: the unique constraint, not the
        // meter's memory, is the dedupe of record, so the next batch carrying "x" cannot commit.
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(server.Dir, "data", "tally.db")};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO events (tenant, event_id, time_ticks, user_name, device, app, action) VALUES ('acme', 'x', $t, 'zed', '', 'a', 'heartbeat');";
            command.Parameters.AddWithValue("$t", server.Time.GetUtcNow().UtcTicks);
            command.ExecuteNonQuery();
        }
        var failed = await ingest.PostAsJsonAsync("/api/v1/events", new object[]
        {
            new { id = "y", user = "bob", app = "a", action = "open-app" },
            new { id = "x", user = "cy", app = "a", action = "open-app" },
        });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);

        // Nothing of the failed batch was applied, and the rebuilt meter knows "x" from the ledger.
        var retry = await ingest.SendEventsAsync(
            new { id = "y", user = "bob", app = "a", action = "open-app" },
            new { id = "x", user = "cy", app = "a", action = "open-app" },
            new { id = "first", user = "ann", app = "a", action = "open-app" });
        Assert.Equal(["charged", "duplicate", "duplicate"], retry.EnumerateArray().Select(r => r.Decision()));
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(2, summary.GetProperty("units").GetInt64());
    }
}
