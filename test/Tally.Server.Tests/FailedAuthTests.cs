using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;

namespace Tally.Server.Tests;

/// <summary>
/// Failed authentication is limited per client address (Tally:FailedAuth): keys that do not authenticate get 429 with
/// Retry-After once a client's allowance is spent, while valid keys from the same client are never counted or slowed.
/// </summary>
public sealed class FailedAuthTests
{
    private static HttpRequestMessage Get(string path, string? key, string? forwardedFor = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }
        return request;
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string? key, string? forwardedFor = null) =>
        (await client.SendAsync(Get("/api/v1/usage/summary", key, forwardedFor))).StatusCode;

    [Fact]
    public async Task BadKeys_PastTheAllowance_429WithRetryAfter_ValidKeySameClientStillServed()
    {
        // 5 failures at once, then one back every 720 s: nothing refills while the test runs.
        await using var server = await TestServer.StartAsync(null, null, null, "--Tally:FailedAuth:Limit=5", "--Tally:FailedAuth:WindowSeconds=3600");
        var acme = await server.TenantAsync("acme");
        using var client = server.Client(null);

        // Valid keys draw nothing from the allowance, however many.
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, acme.Read));
        }
        // Neither do requests without credentials: they guess nothing.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, null));
        for (var i = 0; i < 5; i++)
        {
            var refused = await client.SendAsync(Get("/api/v1/usage/summary", $"tally_000000000000_guess{i}"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.ToString());
        }

        for (var i = 0; i < 10; i++)
        {
            var limited = await client.SendAsync(Get("/api/v1/usage/summary", $"tally_000000000000_more{i}"));
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            var retryAfter = long.Parse(limited.Headers.GetValues("Retry-After").Single(), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 720);
            var problem = await limited.Json();
            Assert.Equal("Too many failed attempts", problem.GetProperty("title").GetString());
            Assert.Equal(429, problem.GetProperty("status").GetInt32());
            // The valid key right after: served, with its data.
            var ok = await client.SendAsync(Get("/api/v1/usage/summary", acme.Read));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal(0, (await ok.Json()).GetProperty("consumedMinutes").GetInt64());
        }
        // Every route and the dashboard sign-in share the allowance; a valid sign-in still works.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Get("/api/v1/licenses/overview", "nope"))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsJsonAsync("/dashboard/session", new { key = "tally_000000000000_guess" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/dashboard/session", new { key = acme.Read })).StatusCode);
        using var ingest = server.Client(acme.Ingest);
        Assert.Equal("charged", (await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app" }))[0].Decision());
        // A wrong role is not a failed authentication: still 403, not 429.
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(client, acme.Ingest));

        // The operator sees both answers in /metrics: 5 failures answered 401, 12 refused with 429. (At least: the
        // exporter also sees the instruments of the other test servers in this process.)
        var metrics = await (await client.GetAsync("/metrics")).Content.ReadAsStringAsync();
        double Count(string outcome) => metrics.Split('\n')
            .Where(l => l.StartsWith("tally_auth_failures_total{", StringComparison.Ordinal) && l.Contains($"outcome=\"{outcome}\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[1], CultureInfo.InvariantCulture));
        Assert.True(Count("unauthorized") >= 5, metrics);
        Assert.True(Count("limited") >= 12, metrics);
    }

    [Fact]
    public async Task Flood_2000BadKeysAtOnce_DefaultAllowance_AllBeyondItAre429_ValidTrafficUnaffected()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var client = server.Client(null);
        var clock = Stopwatch.StartNew();
        var answers = new HttpStatusCode[2000];
        var good = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        // 32 connections at a time, as a scripted attacker would; every 20th request is a client with a valid key.
        await Parallel.ForEachAsync(Enumerable.Range(0, answers.Length), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            answers[i] = await StatusAsync(client, $"tally_0123456789ab_{i:D6}");
            if (i % 20 == 0)
            {
                good.Add(await StatusAsync(client, acme.Read));
            }
        });
        var seconds = clock.Elapsed.TotalSeconds;
        Assert.Equal(100, good.Count);
        Assert.All(good, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.All(answers, s => Assert.True(s is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, $"{s}"));
        // Default: 20 at once, then one every 3 s.
        var unauthorized = answers.Count(s => s == HttpStatusCode.Unauthorized);
        Assert.InRange(unauthorized, 20, 20 + (int)Math.Ceiling(seconds / 3) + 1);
    }

    [Fact]
    public async Task Partition_ByClientAddress_FromTrustedProxyOnly_IPv6ByPrefix()
    {
        await using var server = await TestServer.StartAsync(null, null, null,
            "--Tally:FailedAuth:Limit=3", "--Tally:FailedAuth:WindowSeconds=3600", "--Tally:TrustedProxies=127.0.0.1");
        var acme = await server.TenantAsync("acme");
        using var client = server.Client(null);
        async Task<List<HttpStatusCode>> Guesses(string forwardedFor, int count)
        {
            var statuses = new List<HttpStatusCode>();
            for (var i = 0; i < count; i++)
            {
                statuses.Add(await StatusAsync(client, "tally_000000000000_x", forwardedFor));
            }
            return statuses;
        }
        var limitedThree = Enumerable.Repeat(HttpStatusCode.Unauthorized, 3).Append(HttpStatusCode.TooManyRequests).ToList();

        Assert.Equal(limitedThree, await Guesses("203.0.113.7", 4));
        // Another client behind the same proxy has its own allowance, and the valid key is served for both.
        Assert.Equal(limitedThree, await Guesses("198.51.100.2", 4));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, acme.Read, "203.0.113.7"));
        // One IPv6 host usually holds a /64: its addresses share one allowance; the next /64 is someone else.
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], await Guesses("2001:db8::1", 2));
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], await Guesses("2001:db8::ffff", 2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Guesses("2001:db8:0:1::1", 1))[0]);
    }

    [Fact]
    public async Task Partition_ForwardedForFromAnUntrustedPeer_Ignored_RotatingItDoesNotEscape()
    {
        await using var server = await TestServer.StartAsync(null, null, null, "--Tally:FailedAuth:Limit=3", "--Tally:FailedAuth:WindowSeconds=3600");
        using var client = server.Client(null);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add(await StatusAsync(client, "tally_000000000000_x", $"198.51.100.{i}"));
        }
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 3), .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 3)], statuses);
    }

    [Fact]
    public async Task Limit_Zero_TurnsItOff()
    {
        await using var server = await TestServer.StartAsync(null, null, null, "--Tally:FailedAuth:Limit=0");
        using var client = server.Client(null);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, "tally_000000000000_x"));
        }
    }
}
