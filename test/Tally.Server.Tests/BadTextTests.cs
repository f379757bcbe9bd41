using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Tally.Server.Tests;

/// <summary>
/// Text a ledger cannot keep as sent (R12), on BOTH stores: U+0000 (which PostgreSQL text cannot hold), other control
/// characters and unpaired surrogates are a 400 at the edge naming the field and position, nothing of the request is
/// stored, and no other request suffers for it.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class BadTextTests(PostgresCluster cluster) : IDisposable
{
    private readonly StoreDatabases _databases = new(cluster, "txt");

    public void Dispose() => _databases.Dispose();

    private Task<TestServer> StartAsync(string store) => TestServer.StartOnAsync(_databases.For(store));

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Events_ConcurrentValidBatchesAndOnePoisoned_EveryValidBatch200_ThePoisonedOne400(string store)
    {
        await using var server = await StartAsync(store);
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        const int batches = 40;
        const int perBatch = 4;
        object Event(string id, string user) => new { id, user, app = "sales", action = "open-app" };
        var valid = Enumerable.Range(0, batches)
            .Select(b => Enumerable.Range(0, perBatch).Select(i => Event($"b{b}-{i}", $"user-{b}-{i}")).ToArray()).ToList();
        var poisoned = new[] { Event("p-0", "pat"), Event("p-1", "a\0b") };

        var sends = valid.Select(batch => ingest.PostAsJsonAsync("/api/v1/events", batch)).ToList();
        sends.Insert(batches / 2, ingest.PostAsJsonAsync("/api/v1/events", poisoned));
        var responses = await Task.WhenAll(sends);

        var bad = responses[batches / 2];
        var problem = await bad.AssertProblemAsync(HttpStatusCode.BadRequest, field: "user", index: 1, reasonContains: "control character U+0000 at position 2");
        Assert.Equal("events[1].user: has the control character U+0000 at position 2; names and ids may not contain control characters",
            problem.GetProperty("detail").GetString());
        var good = responses.Where((_, i) => i != batches / 2).ToList();
        Assert.All(good, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var response in good)
        {
            Assert.All((await response.Json()).EnumerateArray(), r => Assert.Equal("charged", r.Decision()));
        }

        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal((long)batches * perBatch, summary.GetProperty("events").GetInt64());
        Assert.Equal((long)batches * perBatch, summary.GetProperty("units").GetInt64());
        // Nothing of the poisoned batch was applied: its valid event is new when sent alone.
        Assert.Equal("charged", (await ingest.SendEventsAsync(Event("p-0", "pat")))[0].Decision());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Names_WithControlCharactersOrNul_400NamingFieldAndPosition_NothingStored(string store)
    {
        await using var server = await StartAsync(store);
        var acme = await server.TenantAsync("acme");
        using var bootstrap = server.Client();
        using var admin = server.Client(acme.Admin);
        using var ingest = server.Client(acme.Ingest);

        async Task Refused(HttpResponseMessage response, string field, string position)
        {
            await response.AssertProblemAsync(HttpStatusCode.BadRequest, $"{field}: ", field: field, reasonContains: $"at position {position}");
        }

        await Refused(await bootstrap.PostAsJsonAsync("/api/v1/tenants", new { id = "nul", name = "A\0B" }), "name", "2");
        await Refused(await bootstrap.PostAsJsonAsync("/api/v1/tenants", new { id = "tab", name = "A\tB" }), "name", "2");
        Assert.Single((await (await bootstrap.GetAsync("/api/v1/tenants")).Json()).EnumerateArray());

        await Refused(await ingest.PostAsJsonAsync("/api/v1/events", new[] { new { id = "e\0", user = "ann", app = "a", action = "open-app" } }), "id", "2");
        await Refused(await ingest.PostAsJsonAsync("/api/v1/access", new { user = "ann", device = "d\u0085", app = "a", action = "open-app" }), "device", "2");
        await Refused(await ingest.PostAsJsonAsync("/api/v1/events", new[] { new { user = "ann", app = "a", action = "open-app", time = "2026-03-10T09:00:00+01:00\0" } }), "time", "26");
        // A lone surrogate cannot even be read from JSON as a string: named where it is.
        var lone = await ingest.PostAsync("/api/v1/events", new StringContent("""[{"user":"ann","app":"\ud800","action":"open-app"}]""", Encoding.UTF8, "application/json"));
        await lone.AssertProblemAsync(HttpStatusCode.BadRequest, field: "app");

        await Refused(await admin.PutAsJsonAsync("/api/v1/allocations", new { users = new[] { new { user = "ann\0", allocation = "capacity" } } }), "users[0].user", "4");
        await Refused(await admin.PutAsJsonAsync("/api/v1/users/ann", new { allocation = "capacity", groups = new[] { "ok", "g\u001b[31m" } }), "users[0].groups[1]", "2");
        await Refused(await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { name = "ops\0", kind = "webhook", url = "https://example.com/hook" }), "name", "4");
        await Refused(await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { name = "ops", kind = "webhook", url = "https://example.com/hook", secret = "0123456789abcdef\u0007" }), "secret", "17");
        var channel = await (await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { name = "ops", kind = "webhook", url = "https://example.com/hook" })).Json();
        await Refused(await admin.PostAsJsonAsync("/api/v1/alerts/rules", new { name = "r\u007f", kind = "lockout", channels = new[] { channel.GetProperty("id").GetString() } }), "name", "2");

        using var read = server.Client(acme.Read);
        Assert.Equal(0, (await (await read.GetAsync("/api/v1/usage/summary")).Json()).GetProperty("events").GetInt64());
        Assert.Empty((await (await admin.GetAsync("/api/v1/allocations")).Json()).GetProperty("users").EnumerateArray());
        Assert.Empty((await (await admin.GetAsync("/api/v1/alerts/rules")).Json()).EnumerateArray());
        Assert.Single((await (await admin.GetAsync("/api/v1/alerts/channels")).Json()).EnumerateArray());
    }
}
