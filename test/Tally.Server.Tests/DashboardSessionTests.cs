using System.Net;
using System.Net.Http.Json;
using Tally.Server.Dashboard;
using Tally.Storage;

namespace Tally.Server.Tests;

/// <summary>Dashboard sign-in sessions over real HTTP: sign-out is final, the session cap binds under concurrency, and the cookie's Secure flag follows Tally:Dashboard:SecureCookie.</summary>
public sealed class DashboardSessionTests
{
    /// <summary>A client that neither stores nor sends cookies by itself, so each test says exactly which cookie it sends.</summary>
    private static HttpClient Bare(TestServer server) => new(new HttpClientHandler { UseCookies = false }) { BaseAddress = server.Address };

    private static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string key) =>
        await client.PostAsJsonAsync("/dashboard/session", new { key });

    /// <summary>The session token a sign-in answer set.</summary>
    private static string TokenOf(HttpResponseMessage signIn)
    {
        var header = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith(DashboardSessions.CookieName + "=", header, StringComparison.Ordinal);
        return header[(DashboardSessions.CookieName.Length + 1)..header.IndexOf(';', StringComparison.Ordinal)];
    }

    private static HttpRequestMessage WithCookie(HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Cookie", $"{DashboardSessions.CookieName}={token}");
        return request;
    }

    private static async Task<HttpStatusCode> PollAsync(HttpClient client, string token, string path = "/dashboard/session") =>
        (await client.SendAsync(WithCookie(HttpMethod.Get, path, token))).StatusCode;

    [Fact]
    public async Task Probe_WithoutACookie_Is200SignedInFalse_WithALiveOne200SignedIn_WithAnEndedOne401()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var client = Bare(server);
        // A page that was never signed in asks without an error (no 401 in the browser's console on every load).
        var none = await client.GetAsync("/dashboard/session");
        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
        var notSignedIn = await none.Json();
        Assert.False(notSignedIn.GetProperty("signedIn").GetBoolean());
        Assert.Single(notSignedIn.EnumerateObject());

        var token = TokenOf(await SignInAsync(client, acme.Read));
        var live = await client.SendAsync(WithCookie(HttpMethod.Get, "/dashboard/session", token));
        var session = await live.Json();
        Assert.True(session.GetProperty("signedIn").GetBoolean());
        Assert.Equal("acme", session.GetProperty("tenant").GetString());

        await client.SendAsync(WithCookie(HttpMethod.Delete, "/dashboard/session", token));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(client, token));
    }

    [Fact]
    public async Task SignOut_RacingPolls_SessionStaysEnded()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var client = Bare(server);
        const int Trials = 60;
        const int Polls = 6;
        var revived = 0;
        for (var trial = 0; trial < Trials; trial++)
        {
            var signIn = await SignInAsync(client, acme.Read);
            Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
            var token = TokenOf(signIn);
            // The page polls while the user signs out in another tab: all at once, on real connections.
            var polls = Enumerable.Range(0, Polls).Select(_ => PollAsync(client, token)).ToList();
            var signOut = client.SendAsync(WithCookie(HttpMethod.Delete, "/dashboard/session", token));
            await Task.WhenAll(polls);
            Assert.Equal(HttpStatusCode.NoContent, (await signOut).StatusCode);
            Assert.All(polls, p => Assert.True(p.Result is HttpStatusCode.OK or HttpStatusCode.Unauthorized, $"{p.Result}"));
            var afterwards = await PollAsync(client, token);
            var reading = await PollAsync(client, token, "/api/v1/usage/summary");
            if (afterwards != HttpStatusCode.Unauthorized || reading != HttpStatusCode.Unauthorized)
            {
                revived++;
            }
        }
        Assert.Equal(0, revived);
    }

    [Fact]
    public async Task SignOut_WhileAPollIsBetweenReadAndTouch_PollCannotReviveTheSession()
    {
        var hold = new HoldPoint();
        await using var server = await TestServer.StartWithAsync(b => LedgerHook.Install(b, hold.After));
        var acme = await server.TenantAsync("acme");
        using var client = Bare(server);
        var signIn = await SignInAsync(client, acme.Read);
        var token = TokenOf(signIn);
        Assert.Equal(HttpStatusCode.OK, await PollAsync(client, token));

        // A poll has found the session and checks its key in the ledger; it is held there while the user signs out.
        hold.Arm((method, _, result) => method == nameof(ILedgerStore.GetApiKey) && result is ApiKeyRecord { Role: ApiRole.Read });
        var poll = PollAsync(client, token);
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(WithCookie(HttpMethod.Delete, "/dashboard/session", token))).StatusCode);
        hold.Release();

        Assert.Equal(HttpStatusCode.Unauthorized, await poll);
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(client, token));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(client, token, "/api/v1/usage/summary"));
    }

    [Fact]
    public async Task SignIn_ConcurrentBeyondTheCap_ExactlyCapSucceed_RestAre503_UntilOneEnds()
    {
        await using var server = await TestServer.StartAsync(null, null, null, "--Tally:Dashboard:MaxSessions=5");
        var acme = await server.TenantAsync("acme");
        using var client = Bare(server);

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => SignInAsync(client, acme.Read)));
        var signedIn = answers.Where(a => a.StatusCode == HttpStatusCode.OK).ToList();
        Assert.Equal(5, signedIn.Count);
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.OK))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.False(refused.Headers.Contains("Set-Cookie"));
            Assert.Contains("Tally:Dashboard:MaxSessions", (await refused.Json()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        var tokens = signedIn.Select(TokenOf).ToList();
        Assert.Equal(5, tokens.Distinct().Count());
        foreach (var token in tokens)
        {
            Assert.Equal(HttpStatusCode.OK, await PollAsync(client, token));
        }

        // Signing out frees one place, and only one.
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(WithCookie(HttpMethod.Delete, "/dashboard/session", tokens[0]))).StatusCode);
        var again = await SignInAsync(client, acme.Read);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await SignInAsync(client, acme.Read)).StatusCode);

        // Sessions idle for their lifetime are dropped to make room.
        server.Time.Advance(DashboardSessions.IdleLifetime);
        var afterIdle = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => SignInAsync(client, acme.Read)));
        Assert.Equal(5, afterIdle.Count(a => a.StatusCode == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(client, TokenOf(again)));
    }

    public static TheoryData<string[], string?, string?, bool> CookieModes => new()
    {
        // extra args, Host header sent, X-Forwarded-Proto sent, Secure expected
        { [], null, null, true },                                                           // Auto, loopback: browsers treat it as secure
        { [], "tally.example.com", null, false },                                          // Auto, plain HTTP to a real host
        { [], "tally.example.com", "https", false },                                       // Auto: a forwarded scheme from an untrusted peer is ignored
        { ["--Tally:TrustedProxies=127.0.0.1"], "tally.example.com", "https", true },      // Auto behind a trusted TLS proxy
        { ["--Tally:TrustedProxies=10.0.0.0/8"], "tally.example.com", "https", false },    // a proxy list that does not hold this peer
        { ["--Tally:TrustedProxies=127.0.0.1"], "tally.example.com", null, false },        // the trusted proxy says plain HTTP
        // ASPNETCORE_FORWARDEDHEADERS_ENABLED (here as its configuration key) cannot widen trust beyond the listed proxies.
        { ["--ForwardedHeaders_Enabled=true", "--Tally:TrustedProxies=10.0.0.0/8"], "tally.example.com", "https", false },
        { ["--Tally:Dashboard:SecureCookie=Always"], "tally.example.com", null, true },    // Always
        { ["--Tally:Dashboard:SecureCookie=Always"], null, null, true },
    };

    [Theory]
    [MemberData(nameof(CookieModes))]
    public async Task SessionCookie_SecureFlag_FollowsModeSchemeAndProxy(string[] args, string? host, string? forwardedProto, bool secure)
    {
        await using var server = await TestServer.StartAsync(null, null, null, args);
        var acme = await server.TenantAsync("acme");
        using var client = Bare(server);
        HttpRequestMessage Request(HttpMethod method)
        {
            var request = new HttpRequestMessage(method, "/dashboard/session");
            if (host is not null)
            {
                request.Headers.Host = host;
            }
            if (forwardedProto is not null)
            {
                request.Headers.Add("X-Forwarded-Proto", forwardedProto);
            }
            return request;
        }
        using var signIn = Request(HttpMethod.Post);
        signIn.Content = JsonContent.Create(new { key = acme.Read });
        var answer = await client.SendAsync(signIn);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var set = Attributes(Assert.Single(answer.Headers.GetValues("Set-Cookie")));
        Assert.Equal(secure, set.Contains("secure"));
        Assert.Contains("httponly", set);
        Assert.Contains("samesite=strict", set);
        Assert.Contains("path=/", set);

        // Signing out clears the cookie with the same attributes, so the browser matches and drops it.
        using var signOut = Request(HttpMethod.Delete);
        signOut.Headers.Add("Cookie", $"{DashboardSessions.CookieName}={TokenOf(answer)}");
        var cleared = await client.SendAsync(signOut);
        Assert.Equal(HttpStatusCode.NoContent, cleared.StatusCode);
        var clear = Assert.Single(cleared.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith(DashboardSessions.CookieName + "=;", clear, StringComparison.Ordinal);
        Assert.Equal(secure, Attributes(clear).Contains("secure"));
    }

    [Fact]
    public async Task Start_BadTrustedProxies_RefusedWithTheSettingNamed()
    {
        var dir = Directory.CreateTempSubdirectory("tally-proxies-").FullName;
        try
        {
            var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
                TestServer.StartAsync(dir, null, null, "--Tally:TrustedProxies=10.0.0.5, proxy.internal"));
            Assert.Contains("Tally:TrustedProxies: 'proxy.internal'", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static HashSet<string> Attributes(string setCookie) =>
        [.. setCookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant())];
}
