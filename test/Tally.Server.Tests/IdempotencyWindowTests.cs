
namespace Tally.Server.Tests;

/// <summary>
/// R10 with a bounded memory (issue "Hardening": memory per event): the meter remembers event ids for
/// Tally:IdempotencyWindow only, and an id older than that is recognised by the ledger before it is applied, so a resent
/// event is a duplicate at any time in the tenant's history, before and after a restart, on both stores.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class IdempotencyWindowTests(PostgresCluster cluster) : IDisposable
{
    private const string TenMinutes = "--Tally:IdempotencyWindow=00:10:00";
    private readonly StoreDatabases _databases = new(cluster, "idw");

    public void Dispose() => _databases.Dispose();

    private static object Open(string id, string user) => new { id, user, app = "sales", action = "open-app" };

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Resend_OlderThanTheWindow_StillADuplicate_BeforeAndAfterRestart(string store)
    {
        var server = await TestServer.StartOnAsync(_databases.For(store), null, TenMinutes);
        try
        {
            var acme = await server.TenantAsync("acme");
            using (var ingest = server.Client(acme.Ingest))
            {
                Assert.Equal("charged", (await ingest.SendEventsAsync(Open("x", "ann")))[0].Decision());
                server.Time.Advance(TimeSpan.FromMinutes(11));
                // "x" is out of the meter's window now: the ledger answers for it. Within one batch a new id and its
                // own resend are told apart as before.
                var decisions = await ingest.SendEventsAsync(Open("x", "ann"), Open("y", "bob"), Open("y", "bob"));
                Assert.Equal(["duplicate", "charged", "duplicate"], decisions.EnumerateArray().Select(d => d.Decision()));
            }
            await AssertTotalsAsync(server, acme);

            server = await server.RestartAsync();
            server.Time.Advance(TimeSpan.FromMinutes(30));
            using (var ingest = server.Client(acme.Ingest))
            {
                var decisions = await ingest.SendEventsAsync(Open("x", "ann"), Open("y", "bob"), Open("z", "cy"));
                Assert.Equal(["duplicate", "duplicate", "charged"], decisions.EnumerateArray().Select(d => d.Decision()));
            }
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Two events stored, two units charged: the duplicates changed nothing.</summary>
    private static async Task AssertTotalsAsync(TestServer server, TenantKeys acme)
    {
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal((2L, 2L), (summary.GetProperty("events").GetInt64(), summary.GetProperty("units").GetInt64()));
    }
}
