using System.Net;
using System.Net.Http.Json;
using Tally.Contract;

namespace Tally.Client.Tests;

/// <summary>One real <c>tally serve</c> shared by the tests of a class that do not kill it.</summary>
public sealed class SharedTally : IAsyncLifetime
{
    private RealTally? _tally;

    public RealTally Tally => _tally ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _tally = await RealTally.StartAsync();

    public async Task DisposeAsync()
    {
        if (_tally is not null)
        {
            await _tally.DisposeAsync();
        }
    }
}

/// <summary>
/// The harness itself, against the real server: <see cref="RealTally"/> (a <c>tally serve</c> child process that can be
/// killed with SIGKILL and restarted) and <see cref="FaultProxy"/> (a loopback reverse proxy that injects faults).
/// </summary>
public sealed class HarnessTests(SharedTally shared) : IClassFixture<SharedTally>
{
    private const string Events = "/api/v1/events";

    private RealTally Tally => shared.Tally;

    private static object Event(string id, string user) => new { id, user, device = user + "-pc", app = "sales", action = "open-app" };

    private static string NewId() => Guid.NewGuid().ToString("N");

    private static async Task<List<EventResult>> ResultsOf(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return System.Text.Json.JsonSerializer.Deserialize<List<EventResult>>(body, RealTally.Json)!;
    }

    [Fact]
    public async Task Proxy_ForwardsAnAuthenticatedBatch_AndTheServersResultsComeBack()
    {
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        using var ingest = ApiClients.For(proxy.Address, Tally.Tenant.Ingest);
        var before = await Tally.EventsRecordedAsync();
        string[] ids = [NewId(), NewId()];

        using var response = await ingest.PostAsJsonAsync(Events, new[] { Event(ids[0], "ann"), Event(ids[1], "bob") });
        var results = await ResultsOf(response);

        Assert.Equal(ids, results.Select(r => r.Id));
        Assert.All(results, r => Assert.NotEqual("duplicate", r.Decision));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before + 2, await Tally.EventsRecordedAsync());
        Assert.Equal(1, proxy.ReceivedOn(Events));
        Assert.Equal(1, proxy.Forwarded);
        Assert.Equal(0, proxy.FaultsInjected);
        Assert.Equal([new ProxyExchange("POST", Events, 200, ProxyOutcome.Forwarded)], proxy.Log);

        // The Authorization header is the client's, passed through: without it the server itself answers 401, a wrong
        // role 403, and a GET with a query string reaches the server whole.
        using var anonymous = ApiClients.For(proxy.Address, null);
        using var refused = await anonymous.PostAsJsonAsync(Events, new[] { Event(NewId(), "ann") });
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var reader = ApiClients.For(proxy.Address, Tally.Tenant.Read);
        using var forbidden = await reader.PostAsJsonAsync(Events, new[] { Event(NewId(), "ann") });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var page = await reader.GetFromJsonAsync<UserUsagePage>("/api/v1/usage/users?limit=7&sort=user", RealTally.Json);
        Assert.Equal(7, page!.Limit);
        Assert.Contains(page.Users, u => u.User == "ann");
        Assert.Equal(4, proxy.Forwarded);
        Assert.Equal(before + 2, await Tally.EventsRecordedAsync());
    }

    [Fact]
    public async Task FailNext2_TwoInjected503s_ThenTheRequestIsForwarded()
    {
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        using var ingest = ApiClients.For(proxy.Address, Tally.Tenant.Ingest);
        var before = await Tally.EventsRecordedAsync();
        var batch = new[] { Event(NewId(), "cid"), Event(NewId(), "dan") };
        proxy.FailNext(2, retryAfterSeconds: 3);

        for (var i = 0; i < 2; i++)
        {
            using var failed = await ingest.PostAsJsonAsync(Events, batch);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Equal("application/problem+json", failed.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(3), failed.Headers.RetryAfter?.Delta);
            Assert.Equal(503, (await failed.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("status").GetInt32());
        }
        Assert.Equal(before, await Tally.EventsRecordedAsync()); // the server never saw them
        using var response = await ingest.PostAsJsonAsync(Events, batch);
        Assert.Equal(2, (await ResultsOf(response)).Count(r => r.Decision != "duplicate"));

        Assert.Equal(before + 2, await Tally.EventsRecordedAsync());
        Assert.Equal(3, proxy.ReceivedOn(Events));
        Assert.Equal(1, proxy.Forwarded);
        Assert.Equal(2, proxy.FaultsInjected);
        Assert.Equal([503, 503, 200], proxy.LogOf(Events).Select(e => e.Status));
        Assert.Equal(0, proxy.PendingFaults);
    }

    [Fact]
    public async Task FailNext_WithAPathPrefix_OnlyThoseRequestsFail()
    {
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        using var ingest = ApiClients.For(proxy.Address, Tally.Tenant.Ingest);
        using var reader = ApiClients.For(proxy.Address, Tally.Tenant.Read);
        proxy.FailNext(1, 429, pathPrefix: "/api/v1/events");

        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/v1/usage/version")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await ingest.PostAsJsonAsync(Events, new[] { Event(NewId(), "eve") })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingest.PostAsJsonAsync(Events, new[] { Event(NewId(), "eve") })).StatusCode);
        Assert.Equal(1, proxy.FaultsInjected);
        Assert.Equal(4, proxy.Received);
        Assert.Equal(3, proxy.Forwarded);
    }

    [Fact]
    public async Task LostResponse_TheServerCommitted_AndTheRetryWithTheSameIdsIsADuplicate()
    {
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        using var ingest = ApiClients.For(proxy.Address, Tally.Tenant.Ingest);
        var before = await Tally.EventsRecordedAsync();
        var batch = new[] { Event(NewId(), "fay"), Event(NewId(), "gus") };
        proxy.LoseNextResponses(1, Events);

        await Assert.ThrowsAsync<HttpRequestException>(() => ingest.PostAsJsonAsync(Events, batch));
        Assert.Equal(before + 2, await Tally.EventsRecordedAsync());
        using var retry = await ingest.PostAsJsonAsync(Events, batch);
        Assert.All(await ResultsOf(retry), r => Assert.Equal("duplicate", r.Decision));
        Assert.Equal(before + 2, await Tally.EventsRecordedAsync());
        Assert.Equal([ProxyOutcome.ResponseLost, ProxyOutcome.Forwarded], proxy.Log.Select(e => e.Outcome));
    }

    [Fact]
    public async Task Mode_AbortResetsTheConnection_Status502Answers502_ForwardServesAgain()
    {
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        using var reader = ApiClients.For(proxy.Address, Tally.Tenant.Read);

        proxy.Down = true;
        Assert.Equal(ProxyMode.Abort, proxy.Mode);
        await Assert.ThrowsAsync<HttpRequestException>(() => reader.GetAsync("/api/v1/usage/version"));
        proxy.Mode = ProxyMode.Status502;
        using (var bad = await reader.GetAsync("/api/v1/usage/version"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, bad.StatusCode);
        }
        proxy.Down = false;
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/v1/usage/version")).StatusCode);

        Assert.Equal([ProxyOutcome.Aborted, ProxyOutcome.Refused, ProxyOutcome.Forwarded], proxy.Log.Select(e => e.Outcome));
        Assert.Equal(2, proxy.FaultsInjected);
        Assert.Equal(1, proxy.Forwarded);
    }

    [Fact]
    public async Task License_ASmallPoolRunsOut_AndTheReadBacksShowWhatTheServerRecorded()
    {
        var tenant = await Tally.CreateTenantAsync("small-pool");
        await Tally.InstallLicenseAsync(RealTally.Terms(packs: 1, packMinutes: 12), tenant);
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        using var ingest = ApiClients.For(proxy.Address, tenant.Ingest);

        var results = new List<EventResult>();
        foreach (var user in new[] { "u1", "u2", "u3", "u4", "u5" })
        {
            using var response = await ingest.PostAsJsonAsync(Events, new[] { Event(NewId(), user) });
            results.AddRange(await ResultsOf(response));
        }

        var charged = results.Where(r => r.Decision == "charged").ToList();
        Assert.NotEmpty(charged);
        Assert.Contains(results, r => r.Decision == "denied");
        Assert.Equal(5, await Tally.EventsRecordedAsync(tenant));
        var summary = await Tally.SummaryAsync(tenant: tenant);
        Assert.Equal(charged.Sum(r => r.Minutes), summary.ConsumedMinutes);
        Assert.Equal(12, summary.IncludedMinutes);
        Assert.Equal(12, summary.ConsumedMinutes); // two 6-minute units, then the pool is spent
        Assert.Equal(summary.ConsumedMinutes, await Tally.ConsumedMinutesAsync(tenant));
        var perUser = await Tally.UsagePerUserAsync(tenant);
        Assert.Equal(charged.Count, perUser.Values.Sum(u => u.Units));
        Assert.Equal(summary.ConsumedMinutes, perUser.Values.Sum(u => u.Minutes));
        Assert.Equal(1, perUser["u1"].Units);
    }
}

/// <summary>Kill -9 and restart: each test owns its server.</summary>
public sealed class KillRestartTests
{
    private const string Events = "/api/v1/events";

    private static object Event(string id, string user) => new { id, user, device = user + "-pc", app = "sales", action = "open-app" };

    [Fact]
    public async Task Kill9_TheProxyAnswers502_RestartOnTheSamePortAndData_TheLedgerSurvived_AndDuplicatesAreKnown()
    {
        await using var tally = await RealTally.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(tally.Address);
        using var ingest = ApiClients.For(proxy.Address, tally.Tenant.Ingest);
        using var committed = await ingest.PostAsJsonAsync(Events, new[] { Event("e-1", "ann"), Event("e-2", "bob") });
        Assert.Equal(HttpStatusCode.OK, committed.StatusCode);
        Assert.Equal(2, await tally.EventsRecordedAsync());
        var pid = tally.ProcessId;

        tally.Kill9();

        Assert.False(tally.IsRunning);
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid));
        using (var down = await ingest.PostAsJsonAsync(Events, new[] { Event("e-3", "cid") }))
        {
            Assert.Equal(HttpStatusCode.BadGateway, down.StatusCode);
            Assert.Equal("application/problem+json", down.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal(new ProxyExchange("POST", Events, 502, ProxyOutcome.Unreachable), proxy.Log[^1]);
        Assert.Equal(0, proxy.FaultsInjected);

        await tally.RestartAsync();

        Assert.True(tally.IsRunning);
        Assert.NotEqual(pid, tally.ProcessId);
        Assert.Equal(2, await tally.EventsRecordedAsync());
        using var again = await ingest.PostAsJsonAsync(Events, new[] { Event("e-2", "bob"), Event("e-3", "cid") });
        var body = await again.Content.ReadAsStringAsync();
        Assert.True(again.StatusCode == HttpStatusCode.OK, body);
        var results = System.Text.Json.JsonSerializer.Deserialize<List<EventResult>>(body, RealTally.Json)!;
        Assert.Equal("duplicate", results[0].Decision);
        Assert.NotEqual("duplicate", results[1].Decision);
        Assert.Equal(3, await tally.EventsRecordedAsync());
        Assert.Contains("bob", (await tally.UsagePerUserAsync()).Keys);
    }
}
