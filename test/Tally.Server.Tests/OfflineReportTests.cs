using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.Server.Tests;

/// <summary>
/// POST and GET /api/v1/offline-reports (issue 18): a client's report of what it allowed while Tally was unreachable is
/// kept once, validated field by field, read back per period, and set beside the server's own decision on each event.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class OfflineReportTests(PostgresCluster cluster) : IDisposable
{
    private const string Route = "/api/v1/offline-reports";

    private readonly StoreDatabases _databases = new(cluster, "off");

    public void Dispose() => _databases.Dispose();

    /// <summary>The outage the reports below cover: the hour before the test server's clock starts.</summary>
    private static readonly DateTimeOffset From = TestServer.Start.AddHours(-1);

    private static object Grant(string eventId, string user, int minutes) =>
        new { eventId, user, device = "pc", app = "sales", action = "open-app", time = From.AddMinutes(10), minutes };

    private static object Report(string id, params object[] grants) => Report(id, From, grants);

    private static object Report(string id, DateTimeOffset from, params object[] grants) =>
        new { id, client = "shop-floor-1", policy = "fail-open", graceBudgetMinutes = 60, from, to = from.AddHours(1), grants, deniedChecks = 2, droppedEvents = 5L };

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Report_AfterItsEvents_EachGrantHasTheServersDecision_LaterDeniedCounted_KeptOnce_OtherTenantsSeeNothing(string store)
    {
        await using var server = await TestServer.StartOnAsync(_databases.For(store));
        var acme = await server.TenantAsync("acme");
        var globex = await server.TenantAsync("globex");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 12));
        using var ingest = server.Client(acme.Ingest);
        // The client's buffer, sent when Tally is back: a pool of two units leaves cy denied.
        var results = await ingest.SendEventsAsync(
            new { id = "e1", user = "ann", device = "pc", app = "sales", action = "open-app" },
            new { id = "e2", user = "bob", device = "pc", app = "sales", action = "open-app" },
            new { id = "e3", user = "cy", device = "pc", app = "sales", action = "open-app" });
        Assert.Equal(["charged", "charged", "denied"], results.EnumerateArray().Select(r => r.Decision()));

        var report = Report("outage-1", Grant("e1", "ann", 0), Grant("e2", "bob", 6), Grant("e3", "cy", 6), Grant("e4", "dan", 6));
        using (var posted = await ingest.PostAsJsonAsync(Route, report))
        {
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            var receipt = await posted.Json();
            Assert.Equal(("outage-1", false, 4, 18), (receipt.GetProperty("id").GetString(), receipt.GetProperty("duplicate").GetBoolean(),
                receipt.GetProperty("grants").GetInt32(), receipt.GetProperty("graceMinutes").GetInt32()));
        }
        // Sent again (the client did not hear the answer), even with other content: kept once, the stored figures answered.
        using (var again = await ingest.PostAsJsonAsync(Route, Report("outage-1", Grant("e9", "eve", 30))))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            var receipt = await again.Json();
            Assert.Equal((true, 4, 18), (receipt.GetProperty("duplicate").GetBoolean(), receipt.GetProperty("grants").GetInt32(), receipt.GetProperty("graceMinutes").GetInt32()));
        }

        using var read = server.Client(acme.Read);
        var view = await (await read.GetAsync(Route)).Json();
        Assert.Equal(("2026-03", 1, 4L, 18L, 2L, 5L, 1L), (view.GetProperty("period").GetString(), view.GetProperty("reports").GetInt32(),
            view.GetProperty("grantedChecks").GetInt64(), view.GetProperty("graceMinutes").GetInt64(), view.GetProperty("deniedChecks").GetInt64(),
            view.GetProperty("droppedEvents").GetInt64(), view.GetProperty("laterDenied").GetInt64()));
        var item = Assert.Single(view.GetProperty("items").EnumerateArray());
        Assert.Equal(("outage-1", "shop-floor-1", "fail-open", 60, 18), (item.GetProperty("id").GetString(), item.GetProperty("client").GetString(),
            item.GetProperty("policy").GetString(), item.GetProperty("graceBudgetMinutes").GetInt32(), item.GetProperty("graceMinutes").GetInt32()));
        Assert.Equal(TestServer.Start, item.GetProperty("received").GetDateTimeOffset());
        Assert.Equal(
        [
            ("e1", "charged", null), ("e2", "charged", null), ("e3", "denied", "pool-exhausted"), ("e4", null, null),
        ], item.GetProperty("grants").EnumerateArray().Select(g => (g.GetProperty("eventId").GetString(), Text(g, "serverDecision"), Text(g, "serverReason"))));

        // Another tenant's keys never see acme's report; its own report naming acme's event ids gets no decision from them.
        using var theirRead = server.Client(globex.Read);
        Assert.Equal(0, (await (await theirRead.GetAsync(Route)).Json()).GetProperty("reports").GetInt32());
        using var theirIngest = server.Client(globex.Ingest);
        Assert.Equal(HttpStatusCode.OK, (await theirIngest.PostAsJsonAsync(Route, Report("outage-1", Grant("e3", "cy", 6)))).StatusCode);
        var theirs = await (await theirRead.GetAsync(Route)).Json();
        Assert.Equal(0, theirs.GetProperty("laterDenied").GetInt64());
        var theirGrant = Assert.Single(Assert.Single(theirs.GetProperty("items").EnumerateArray()).GetProperty("grants").EnumerateArray());
        Assert.Null(Text(theirGrant, "serverDecision"));
        // Their report of the same id is theirs: acme's still has its four grants.
        Assert.Equal(4, (await (await read.GetAsync(Route)).Json()).GetProperty("grantedChecks").GetInt64());
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetString() : null;

    [Fact]
    public async Task Post_BadReport_400NamingTheFieldAndReason_TooManyGrants413_NothingStored()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        var grant = new Dictionary<string, object?>
        {
            ["eventId"] = "e1", ["user"] = "ann", ["device"] = "pc", ["app"] = "sales", ["action"] = "open-app", ["time"] = From, ["minutes"] = 6,
        };
        Dictionary<string, object?> Body(params (string Name, object? Value)[] changes)
        {
            var body = new Dictionary<string, object?>
            {
                ["id"] = "r1", ["client"] = "c1", ["policy"] = "fail-open", ["graceBudgetMinutes"] = 60, ["from"] = From, ["to"] = From.AddHours(1),
                ["grants"] = new[] { grant }, ["deniedChecks"] = 0, ["droppedEvents"] = 0,
            };
            foreach (var (name, value) in changes)
            {
                body[name] = value;
            }
            return body;
        }
        Dictionary<string, object?> WithGrant(string name, object? value) => new(grant) { [name] = value };

        async Task Refused(Dictionary<string, object?> body, string field, string reason)
        {
            using var response = await ingest.PostAsJsonAsync(Route, body);
            await response.AssertProblemAsync(HttpStatusCode.BadRequest, $"{field}: {reason}", field, reason);
        }
        await Refused(Body(("id", null)), "id", "is required");
        await Refused(Body(("id", new string('x', 201))), "id", "is longer than 200 characters");
        await Refused(Body(("client", " ")), "client", "is required");
        await Refused(Body(("client", new string('c', 201))), "client", "is longer than 200 characters");
        await Refused(Body(("policy", "fail-sometimes")), "policy", "must be fail-open or fail-closed");
        await Refused(Body(("policy", null)), "policy", "is required");
        await Refused(Body(("graceBudgetMinutes", null)), "graceBudgetMinutes", "is required");
        await Refused(Body(("graceBudgetMinutes", 1_000_001)), "graceBudgetMinutes", "must be between 0 and 1000000");
        await Refused(Body(("graceBudgetMinutes", -1)), "graceBudgetMinutes", "must be between 0 and 1000000");
        await Refused(Body(("from", null)), "from", "is required");
        await Refused(Body(("to", From.AddSeconds(-1))), "to", "must not be before from");
        await Refused(Body(("to", TestServer.Start.AddHours(1))), "to", "is more than 5 minutes ahead of the server clock");
        await Refused(Body(("deniedChecks", -1)), "deniedChecks", "must not be negative");
        await Refused(Body(("droppedEvents", -1L)), "droppedEvents", "must not be negative");
        await Refused(Body(("grants", new object?[] { grant, null })), "grants[1]", "is null; send an object");
        await Refused(Body(("grants", new[] { grant, WithGrant("eventId", "") })), "grants[1].eventId", "is required");
        await Refused(Body(("grants", new[] { grant, grant })), "grants[1].eventId", "'e1' is granted twice in this report");
        await Refused(Body(("grants", new[] { grant, grant, grant, WithGrant("user", null) })), "grants[1].eventId", "'e1' is granted twice in this report");
        await Refused(Body(("grants", new[] { WithGrant("user", null) })), "grants[0].user", "is required");
        await Refused(Body(("grants", new[] { WithGrant("user", new string('u', 257)) })), "grants[0].user", "is longer than 256 characters");
        await Refused(Body(("grants", new[] { WithGrant("device", new string('d', 257)) })), "grants[0].device", "is longer than 256 characters");
        await Refused(Body(("grants", new[] { WithGrant("app", "a\u0001b") })), "grants[0].app", "has the control character U+0001 at position 2");
        await Refused(Body(("grants", new[] { WithGrant("action", null) })), "grants[0].action", "is required");
        await Refused(Body(("grants", new[] { WithGrant("action", "dance") })), "grants[0].action", "unknown action 'dance'");
        await Refused(Body(("grants", new[] { WithGrant("time", null) })), "grants[0].time", "is required");
        await Refused(Body(("grants", new[] { WithGrant("minutes", null) })), "grants[0].minutes", "is required");
        await Refused(Body(("grants", new[] { WithGrant("minutes", 10_001) })), "grants[0].minutes", "must be between 0 and 10000");
        await Refused(Body(("grants", new[] { WithGrant("minutes", -1) })), "grants[0].minutes", "must be between 0 and 10000");

        var tooMany = Enumerable.Range(0, 10_001).Select(i => WithGrant("eventId", $"e{i}")).ToArray();
        using (var large = await ingest.PostAsJsonAsync(Route, Body(("grants", tooMany))))
        {
            await large.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "at most 10000", title: "Payload too large");
        }
        using var read = server.Client(acme.Read);
        Assert.Equal(0, (await (await read.GetAsync(Route)).Json()).GetProperty("reports").GetInt32());

        // The same report made right is taken, 10,000 grants and all; an absent device, grant list and counts are none.
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync(Route, Body(("grants", tooMany[..10_000])))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync(Route,
            new { id = "quiet", client = "c1", policy = "fail-closed", graceBudgetMinutes = 0, from = From, to = From })).StatusCode);
        var view = await (await read.GetAsync(Route)).Json();
        Assert.Equal((2, 10_000L, 60_000L, 0L), (view.GetProperty("reports").GetInt32(), view.GetProperty("grantedChecks").GetInt64(),
            view.GetProperty("graceMinutes").GetInt64(), view.GetProperty("deniedChecks").GetInt64()));
    }

    [Fact]
    public async Task Keys_PostNeedsIngest_GetNeedsReadOrAdmin_ObservingTenant409()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        var report = Report("r1", Grant("e1", "ann", 6));
        using (var anonymous = server.Client(null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync(Route, report)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(Route)).StatusCode);
        }
        foreach (var key in new[] { acme.Read, acme.Admin, TestServer.AdminKey })
        {
            using var client = server.Client(key);
            Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync(Route, report)).StatusCode);
        }
        foreach (var key in new[] { acme.Ingest, TestServer.AdminKey })
        {
            using var client = server.Client(key);
            Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync(Route)).StatusCode);
        }
        using (var ingest = server.Client(acme.Ingest))
        {
            Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync(Route, report)).StatusCode);
        }
        foreach (var key in new[] { acme.Read, acme.Admin })
        {
            using var client = server.Client(key);
            Assert.Equal(1, (await (await client.GetAsync(Route)).Json()).GetProperty("reports").GetInt32());
        }

        // A tenant that observes a source decides nothing itself, offline or not.
        var observer = await server.TenantAsync("obs");
        using var observerAdmin = server.Client(observer.Admin);
        Assert.Equal(HttpStatusCode.Created, (await observerAdmin.PostAsJsonAsync("/api/v1/sources",
            new { id = "cloud", kind = "qlik-cloud", url = "https://qlik.example", apiKey = "0123456789" })).StatusCode);
        using var observed = await server.Client(observer.Ingest).PostAsJsonAsync(Route, report);
        await observed.AssertProblemAsync(HttpStatusCode.Conflict, "observes a source of usage", title: "Observing tenant");
        Assert.Equal(0, (await (await server.Client(observer.Read).GetAsync(Route)).Json()).GetProperty("reports").GetInt32());
    }

    [Fact]
    public async Task Get_Period_IsTheMonthHoldingFromInTheLicenseZone_NewestFirst_BadPeriod400()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 600) with { TimeZoneId = "Europe/Paris" });
        using var ingest = server.Client(acme.Ingest);
        // 23:30 UTC on 28 February is 00:30 on 1 March in Paris: a March report.
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync(Route, Report("march-in-paris", new DateTimeOffset(2026, 2, 28, 23, 30, 0, TimeSpan.Zero)))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync(Route, Report("february", new DateTimeOffset(2026, 2, 28, 22, 30, 0, TimeSpan.Zero)))).StatusCode);
        server.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync(Route, Report("march-later", From))).StatusCode);

        using var read = server.Client(acme.Read);
        async Task<IEnumerable<string?>> Ids(string query) =>
            (await (await read.GetAsync(Route + query)).Json()).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString());
        Assert.Equal(["march-later", "march-in-paris"], await Ids(""));
        Assert.Equal(["march-later", "march-in-paris"], await Ids("?period=2026-03"));
        Assert.Equal(["february"], await Ids("?period=2026-02"));
        Assert.Empty(await Ids("?period=2026-04"));
        using var bad = await read.GetAsync(Route + "?period=March");
        await bad.AssertProblemAsync(HttpStatusCode.BadRequest, "period: 'March' is not", "period");
    }
}
