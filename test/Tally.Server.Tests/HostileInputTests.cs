using System.Net.Http.Headers;
using System.Text;
using CsCheck;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Tally.Server.Tests;

/// <summary>
/// Random well-formed and malformed requests at every endpoint the server maps (read from its own route table, so a
/// new endpoint is covered without touching this test), with every kind of key. The laws: no answer is a 5xx; a
/// refused request changes nothing (the tenant's terms, keys, alerting and ledger read the same before and after);
/// another tenant's data never changes; and afterwards the server still meters valid traffic.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class HostileInputTests(PostgresCluster cluster) : IDisposable
{
    private readonly StoreDatabases _databases = new(cluster, "fuzz");

    public void Dispose() => _databases.Dispose();

    private sealed record Target(string Method, string Pattern);

    private sealed record Attempt(Target Target, string Path, string Query, string? Body, string ContentType, int Key);

    // Values chosen to reach the edges: bounds, overflow, offsets past ±14:00, control and non-BMP characters,
    // markup, SQL, path tricks, empty and huge.
    private static readonly string[] Values =
    [
        "", "0", "-1", "1", "200", "201", "1001", "99999999999999999999", "1e309", "NaN", "true", "maybe",
        "2026-03", "9999-12", "0001-01", "2026-13", "2026-03-10T09:00:00Z", "2026-03-10T09:00:00+14:30", "2026-03-10T09:00:00",
        "endTime gt \"2026-03-01T00:00:00Z\"", "endTime gt \"2026-03-01T00:00:00+14:30\"", "endTime gt 2026", "subject sw \"a\" or x",
        "((((((((((", "-endTime", "+subject", "users", "desc", "hour", "csv", "json",
        "a\u0000b", "\u0001\u001f", "\uffff", "😀 Åsa", "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%00", "=1+1",
        new string('x', 300), new string('y', 5000), "eyJkaXIiOiJuZXh0In0", "e30",
    ];

    private static readonly string[] QueryNames =
        ["period", "limit", "offset", "sort", "order", "search", "filter", "page", "granularity", "format", "seatPrice", "packPrice", "packMinutes", "months", "orphans"];

    private static readonly string[] Bodies =
    [
        "", "null", "[]", "{}", "{", "[{", "\"text\"", "12", "true",
        """[{"user":"ann","app":"a","action":"open-app"}]""",
        """[{"user":"ann","app":"a","action":"open-app","time":"2026-03-10T09:00:00+14:30"}]""",
        """[{"user":"a\u0000b","app":"a","action":"open-app"}]""",
        """[{"user":"ann","app":"a","action":"fly"}]""",
        """[{"user":5,"app":[],"action":{}}]""",
        """{"user":"ann","app":"a","action":"open-app"}""",
        """{"id":"t-fuzz","name":"Fuzz"}""", """{"id":"bad id"}""",
        """{"role":"read"}""", """{"role":"bootstrap"}""",
        """{"key":"not a key"}""",
        """{"users":[{"user":"ann","allocation":"gold"}]}""", """{"users":[{"user":"ann","allocation":"professional"}]}""",
        """{"users":[null]}""", """{"everyoneCapMinutes":-5}""",
        """{"allocation":"capacity","capMinutes":30}""", """{"allocation":"capacity","capMinutes":-1}""",
        """{"name":"n","kind":"webhook","url":"http://127.0.0.1:1/"}""", """{"name":"n","kind":"email","to":"not-an-address"}""",
        """{"name":"r","kind":"threshold-percent","value":1e308,"channels":["nope"]}""",
        """{"add":[{"subject":"ann","type":"professional"}]}""", """{"add":[{"subject":"anon:x","type":"analyzer"}]}""",
        """{"update":[{"subject":"ann","sourceSubject":"zed","type":"gold"}]}""", """{"delete":[{"subject":"nobody","type":"analyzer"}]}""",
        """{"add":null}""", """{"autoAssignProfessional":"yes"}""", """{"autoAssignAnalyzer":true}""",
        """{"key":"x","apiKey":"x"}""",
    ];

    /// <summary>A server with two licensed tenants (globex has a unit) and the route table's every (method, pattern).</summary>
    private static async Task<(TestServer Server, TenantKeys Acme, TenantKeys Globex, Target[] Targets)> StartAsync(string? database = null)
    {
        var server = await TestServer.StartOnAsync(database);
        var acme = await server.TenantAsync("acme");
        var globex = await server.TenantAsync("globex");
        await server.InstallLicenseAsync(acme, TestServer.Terms(2, 1000) with { LicenseId = "L-acme", ProfessionalSeats = 2, AnalyzerSeats = 2 });
        await server.InstallLicenseAsync(globex, TestServer.Terms(1, 1000) with { LicenseId = "L-globex" });
        using (var ingest = server.Client(globex.Ingest))
        {
            await ingest.SendEventsAsync(new { user = "gina", app = "g", action = "open-app" });
        }
        var targets = server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => new Target(m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))
            .Distinct().OrderBy(t => t.Pattern, StringComparer.Ordinal).ThenBy(t => t.Method, StringComparer.Ordinal).ToArray();
        Assert.Contains(targets, t => t.Pattern == "/api/v1/licenses/assignments/actions/add");
        Assert.True(targets.Length > 30, $"only {targets.Length} endpoints found");
        return (server, acme, globex, targets);
    }

    private static string Fill(Target target, string routeValue) => string.Concat(target.Pattern.Split('/').Select((segment, i) =>
        (i == 0 ? "" : "/") + (segment.StartsWith('{') ? (routeValue.Length == 0 ? "x" : Uri.EscapeDataString(routeValue)) : segment)));

    [Fact]
    public async Task EveryReadEndpoint_EveryQueryParameterAndEdgeValue_No5xx()
    {
        var (server, acme, _, targets) = await StartAsync();
        await using var _ = server;
        using var admin = server.Client(acme.Admin);
        var errors = new List<string>();
        var requests = 0;
        foreach (var target in targets.Where(t => t.Method == "GET"))
        {
            foreach (var name in QueryNames)
            {
                foreach (var value in Values)
                {
                    var uri = $"{Fill(target, "x")}?{name}={Uri.EscapeDataString(value)}";
                    using var response = await admin.GetAsync(uri);
                    requests++;
                    if ((int)response.StatusCode >= 500)
                    {
                        errors.Add($"GET {uri}: {(int)response.StatusCode}");
                    }
                }
            }
        }
        Assert.True(errors.Count == 0, $"{errors.Count} of {requests} answered 5xx:\n" + string.Join("\n", errors.Take(15)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task EveryWriteEndpoint_EveryBody_EveryKey_No5xx_RefusalsChangeNothing(string store)
    {
        var (server, acme, globex, targets) = await StartAsync(_databases.For(store));
        await using var _ = server;
        var globexBefore = await FingerprintAsync(server, globex, withKeys: false);
        var errors = new List<string>();
        var fingerprint = await FingerprintAsync(server, acme, withKeys: true);
        foreach (var target in targets.Where(t => t.Method != "GET"))
        {
            foreach (var key in new[] { acme.Ingest, acme.Admin, TestServer.AdminKey })
            {
                foreach (var body in Bodies)
                {
                    using var client = server.Client(key);
                    using var request = new HttpRequestMessage(new HttpMethod(target.Method), Fill(target, "x"))
                    {
                        Content = new StringContent(body, Encoding.UTF8, "application/json"),
                    };
                    using var response = await client.SendAsync(request);
                    var status = (int)response.StatusCode;
                    if (status >= 500)
                    {
                        errors.Add($"{target.Method} {target.Pattern} {body}: {status} {await response.Content.ReadAsStringAsync()}");
                        continue;
                    }
                    var after = await FingerprintAsync(server, acme, withKeys: true);
                    Assert.True(status < 400 || after == fingerprint, $"refused with {status} but changed state: {target.Method} {target.Pattern} {body}");
                    fingerprint = after;
                }
            }
        }
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(15)));
        Assert.Equal(globexBefore, await FingerprintAsync(server, globex, withKeys: false));
    }

    [Fact]
    public async Task EveryEndpoint_RandomRequests_No5xx_RefusalsChangeNothing_ServerStillMeters()
    {
        var (server, acme, globex, targets) = await StartAsync();
        await using var _ = server;
        var globexBefore = await FingerprintAsync(server, globex, withKeys: false);
        // Callers: none, garbage, then each role of acme, then the bootstrap key.
        string?[] keys = [null, "tally_nope_nope", acme.Ingest, acme.Read, acme.Admin, TestServer.AdminKey];

        var value = Gen.Int[0, Values.Length - 1].Select(i => Values[i]);
        var attempts = Gen.Select(Gen.Int[0, targets.Length - 1], value, Gen.Int[0, QueryNames.Length - 1].Select(value, (n, v) => (QueryNames[n], v)).Array[0, 3],
                Gen.Int[-1, Bodies.Length - 1], Gen.Int[0, keys.Length - 1], Gen.Bool)
            .Select((t, routeValue, query, body, key, json) =>
            {
                var target = targets[t];
                var path = Fill(target, routeValue);
                var queryString = string.Join("&", query.Select(q => $"{q.Item1}={Uri.EscapeDataString(q.Item2)}"));
                return new Attempt(target, path, queryString, body < 0 ? null : Bodies[body], json ? "application/json" : "text/plain", key);
            });

        var serverErrors = new List<string>();
        var fingerprint = await FingerprintAsync(server, acme, withKeys: true);
        var tried = 0;
        await attempts.SampleAsync(async attempt =>
        {
            tried++;
            using var client = server.Client(keys[attempt.Key]);
            using var request = new HttpRequestMessage(new HttpMethod(attempt.Target.Method), attempt.Path + (attempt.Query.Length > 0 ? "?" + attempt.Query : ""));
            if (attempt.Body is not null)
            {
                request.Content = new StringContent(attempt.Body, Encoding.UTF8);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(attempt.ContentType);
            }
            using var response = await client.SendAsync(request);
            var status = (int)response.StatusCode;
            if (status >= 500)
            {
                serverErrors.Add($"{attempt.Target.Method} {attempt.Path}?{attempt.Query} key#{attempt.Key} body={attempt.Body}: {status} {await response.Content.ReadAsStringAsync()}");
                return;
            }
            var after = await FingerprintAsync(server, acme, withKeys: true);
            if (status >= 400)
            {
                Assert.True(after == fingerprint, $"refused with {status} but changed state: {attempt.Target.Method} {attempt.Path}?{attempt.Query} body={attempt.Body}");
            }
            fingerprint = after;
        }, iter: 250, threads: 1, seed: Environment.GetEnvironmentVariable("TALLY_FUZZ_SEED"));

        Assert.True(serverErrors.Count == 0, string.Join("\n", serverErrors.Take(10)));
        Assert.True(tried >= 250);
        Assert.Equal(globexBefore, await FingerprintAsync(server, globex, withKeys: false));

        // The server still meters valid traffic, and counts it.
        using var read = server.Client(acme.Read);
        var events = (await (await read.GetAsync("/api/v1/usage/summary")).Json()).GetProperty("events").GetInt64();
        using var acmeIngest = server.Client(acme.Ingest);
        server.Time.Advance(TimeSpan.FromHours(1));
        var results = await acmeIngest.SendEventsAsync(new { user = "after-fuzz", app = "a", action = "open-app" }, new { user = "after-fuzz", app = "a", action = "select" });
        Assert.Equal(["charged", "covered"], results.EnumerateArray().Select(r => r.Decision()));
        Assert.Equal(events + 2, (await (await read.GetAsync("/api/v1/usage/summary")).Json()).GetProperty("events").GetInt64());
    }

    /// <summary>What a refused request must leave alone: the tenant's terms, plan, alerting, ledger totals and (optionally) keys.</summary>
    private static async Task<string> FingerprintAsync(TestServer server, TenantKeys tenant, bool withKeys)
    {
        using var admin = server.Client(tenant.Admin);
        string[] paths =
        [
            "/api/v1/license", "/api/v1/allocations", "/api/v1/alerts/channels", "/api/v1/alerts/rules", "/api/v1/usage/summary",
            "/api/v1/licenses/assignments", "/api/v1/licenses/consumption?limit=200", .. (withKeys ? new[] { "/api/v1/api-keys" } : []),
        ];
        var parts = new List<string>();
        foreach (var path in paths)
        {
            using var response = await admin.GetAsync(path);
            parts.Add($"{path} {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        return string.Join("\n", parts);
    }
}
