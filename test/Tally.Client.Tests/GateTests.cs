using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tally.Client.AspNetCore;
using Tally.Contract;

namespace Tally.Client.Tests;

/// <summary>
/// <c>.RequireTallyAccess</c> in a real ASP.NET Core app on loopback, asking a real <c>tally serve</c>: allowed, 403
/// with the reason and Retry-After when the pool is spent, Professional-only actions, nobody signed in, and offline.
/// </summary>
public sealed class GateTests(SharedTally shared) : IClassFixture<SharedTally>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-gate-").FullName;

    private RealTally Tally => shared.Tally;

    [Fact]
    public async Task TheGate_AllowsAndMeters_Answers403WithReasonAndRetryAfter_AndKeepsEditingForProfessionals()
    {
        var tenant = await Tally.CreateTenantAsync("gated");
        // One unit of pool and one Professional seat.
        await Tally.InstallLicenseAsync(RealTally.Terms(1, 6) with { ProfessionalSeats = 1 }, tenant);
        using (var admin = Tally.Client(tenant.Admin))
        {
            (await admin.PutAsJsonAsync("/api/v1/users/pro", new UserPlanDto("pro", "professional", null, null))).EnsureSuccessStatusCode();
        }
        await using var app = await GatedApp.StartAsync(Tally.Address, tenant.Ingest, Path.Combine(_dir, "a.db"));
        var before = await Tally.EventsRecordedAsync(tenant);

        using var anonymous = await app.GetAsync(null, "/apps/sales");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var ana = await app.GetAsync("ana", "/apps/sales");
        Assert.Equal(HttpStatusCode.OK, ana.StatusCode);
        Assert.Equal("sales: charged online", await ana.Content.ReadAsStringAsync());

        // The pool's one unit is ana's: bob is refused until the next period starts.
        using var bob = await app.GetAsync("bob", "/apps/sales");
        Assert.Equal(HttpStatusCode.Forbidden, bob.StatusCode);
        var problem = await Problem(bob);
        Assert.Equal("pool-exhausted", problem.GetProperty("reason").GetString());
        Assert.False(problem.GetProperty("offline").GetBoolean());
        var now = TimeProvider.System.GetUtcNow();
        var nextPeriod = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
        var retryAfter = long.Parse(Assert.Single(bob.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, (long)(nextPeriod - now).TotalSeconds - 60, (long)(nextPeriod - now).TotalSeconds + 60);

        // Editing a sheet is a restricted action: ana (capacity) may not, pro (Professional seat) may, and neither is charged.
        using var anaEdits = await app.GetAsync("ana", "/apps/sales/edit");
        Assert.Equal(HttpStatusCode.Forbidden, anaEdits.StatusCode);
        Assert.Equal("not-permitted", (await Problem(anaEdits)).GetProperty("reason").GetString());
        Assert.False(anaEdits.Headers.Contains("Retry-After"));
        using var proEdits = await app.GetAsync("pro", "/apps/sales/edit");
        Assert.Equal(HttpStatusCode.OK, proEdits.StatusCode);

        // Each gated request was an engagement Tally recorded (the anonymous one never reached it).
        Assert.Equal(before + 4, await Tally.EventsRecordedAsync(tenant));
        Assert.Equal(6, await Tally.ConsumedMinutesAsync(tenant));
    }

    [Fact]
    public async Task Offline_TheGateAnswersWithTheOfflinePolicy_AndSaysWhenToRetry()
    {
        var tenant = await Tally.CreateTenantAsync("gated-offline");
        await using var proxy = await FaultProxy.StartAsync(Tally.Address);
        proxy.Mode = ProxyMode.Abort;
        await using var closed = await GatedApp.StartAsync(proxy.Address, tenant.Ingest, Path.Combine(_dir, "closed.db"));
        using var denied = await closed.GetAsync("ana", "/apps/sales");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        var problem = await Problem(denied);
        Assert.Equal(("offline", true), (problem.GetProperty("reason").GetString(), problem.GetProperty("offline").GetBoolean()));
        Assert.InRange(long.Parse(Assert.Single(denied.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture), 29, 30);

        await using var open = await GatedApp.StartAsync(proxy.Address, tenant.Ingest, Path.Combine(_dir, "open.db"), o => o.OfflineAccess = OfflineAccessPolicy.FailOpen);
        using var allowed = await open.GetAsync("ana", "/apps/sales");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("sales: charged offline", await allowed.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> Problem(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>An app with two gated pages; the signed-in user is the <c>X-User</c> header (the test's stand-in for authentication).</summary>
    private sealed class GatedApp : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly HttpClient _http;

        private GatedApp(WebApplication app)
        {
            _app = app;
            _http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        }

        public static async Task<GatedApp> StartAsync(Uri tally, string key, string buffer, Action<TallyClientOptions>? tweak = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Services.AddTallyClient(o =>
            {
                o.BaseAddress = tally;
                o.ApiKey = key;
                o.BufferPath = buffer;
                o.AccessTimeout = TimeSpan.FromSeconds(30); // a loaded machine may answer slowly; offline here means unreachable, not slow
                tweak?.Invoke(o);
            });
            builder.Services.Configure<TallyGateOptions>(g => g.User = http => http.Request.Headers["X-User"].FirstOrDefault());
            var app = builder.Build();
            app.MapGet("/apps/{app}", (string app, HttpContext http) => Show(app, http)).RequireTallyAccess(app: "{app}");
            app.MapGet("/apps/{app}/edit", (string app, HttpContext http) => Show(app, http)).RequireTallyAccess(app: "{app}", action: TallyActions.EditSheet);
            await app.StartAsync();
            return new GatedApp(app);
        }

        private static string Show(string app, HttpContext http) =>
            http.Items[TallyGateExtensions.DecisionItem] is AccessDecision d ? $"{app}: {d.Decision} {(d.Offline ? "offline" : "online")}" : "no decision";

        public async Task<HttpResponseMessage> GetAsync(string? user, string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (user is not null)
            {
                request.Headers.Add("X-User", user);
            }
            return await _http.SendAsync(request);
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
