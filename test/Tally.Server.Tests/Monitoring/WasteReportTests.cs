using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tally.Metering;

namespace Tally.Server.Tests.Monitoring;

/// <summary>
/// <c>GET /api/v1/usage/waste</c> (R14) against a real server on SQLite: a hand-computed day of scheduled reloads in
/// device mode, in Europe/Paris (UTC+1 in March), where the test clock starts at 09:00 UTC, 10:00 local.
/// </summary>
public sealed class WasteReportTests
{
    private static object Open(string user) => new { user, device = user + "-pc", app = "sales", action = "open-app" };
    private static object Select(string user) => new { user, device = user + "-pc", app = "sales", action = "select" };
    private static object Heartbeat(string user) => new { user, device = user + "-pc", action = "heartbeat" };
    private static readonly object Reload = new { app = "sales", action = "scheduled-reload" };

    /// <summary>Sends <paramref name="events"/> at <paramref name="minute"/> minutes after the test clock's start.</summary>
    private static async Task AtAsync(TestServer server, HttpClient ingest, int minute, params object[] events)
    {
        server.Time.Advance(TestServer.Start.AddMinutes(minute) - server.Time.GetUtcNow());
        await ingest.SendEventsAsync(events);
    }

    /// <summary>
    /// ann opens sales at 10:00 local and then only keeps her session alive; bob opens at 10:30 and selects at 10:50;
    /// cy opens at 11:30. Reloads at 11:00, 12:00 and 13:00 local each charge every connected user a unit:
    /// 11:00: ann idle (60 min quiet), bob not (10 min); 12:00: ann, bob (70) and cy (exactly 30: idle); 13:00: all idle.
    /// 8 reload units (48 minutes), 7 idle (42). Consumed: those 48 plus four engagement units = 72 of 100 included.
    /// </summary>
    private static async Task<(TestServer Server, TenantKeys Acme)> ScenarioAsync()
    {
        var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 100) with { TimeZoneId = "Europe/Paris" });
        using var ingest = server.Client(acme.Ingest);
        // Heartbeats every 20 minutes keep each session alive (it expires 30 minutes after its last event, R6).
        await AtAsync(server, ingest, 0, Open("ann"));
        await AtAsync(server, ingest, 20, Heartbeat("ann"));
        await AtAsync(server, ingest, 30, Open("bob"));
        await AtAsync(server, ingest, 40, Heartbeat("ann"), Heartbeat("bob"));
        await AtAsync(server, ingest, 50, Select("bob"));
        await AtAsync(server, ingest, 60, Heartbeat("ann"), Heartbeat("bob"), Reload);
        await AtAsync(server, ingest, 80, Heartbeat("ann"), Heartbeat("bob"));
        await AtAsync(server, ingest, 90, Open("cy"));
        await AtAsync(server, ingest, 100, Heartbeat("ann"), Heartbeat("bob"), Heartbeat("cy"));
        await AtAsync(server, ingest, 120, Heartbeat("ann"), Heartbeat("bob"), Heartbeat("cy"), Reload);
        await AtAsync(server, ingest, 140, Heartbeat("ann"), Heartbeat("bob"), Heartbeat("cy"));
        await AtAsync(server, ingest, 160, Heartbeat("ann"), Heartbeat("bob"), Heartbeat("cy"));
        await AtAsync(server, ingest, 180, Reload);
        return (server, acme);
    }

    private static (long IdleUnits, long IdleMinutes, long ReloadUnits, long ReloadMinutes) Figures(JsonElement row) =>
        (row.GetProperty("idleReloadUnits").GetInt64(), row.GetProperty("idleReloadMinutes").GetInt64(),
            row.GetProperty("reloadUnits").GetInt64(), row.GetProperty("reloadMinutes").GetInt64());

    [Fact]
    public async Task Waste_DayOfReloads_HandComputedTotalsUsersAppsAndLocalHours()
    {
        var (server, acme) = await ScenarioAsync();
        await using var running = server;
        using var read = server.Client(acme.Read);

        using var response = await read.GetAsync("/api/v1/usage/waste?period=2026-03");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var waste = await response.Json();

        Assert.Equal("2026-03", waste.GetProperty("period").GetString());
        Assert.Equal("Europe/Paris", waste.GetProperty("timeZone").GetString());
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 23, 0, 0, TimeSpan.Zero), waste.GetProperty("start").GetDateTimeOffset());
        Assert.Equal(30, waste.GetProperty("quietMinutes").GetInt32());
        Assert.Equal((8, 48, 7, 42), (waste.GetProperty("reloadUnits").GetInt64(), waste.GetProperty("reloadMinutes").GetInt64(),
            waste.GetProperty("idleReloadUnits").GetInt64(), waste.GetProperty("idleReloadMinutes").GetInt64()));
        Assert.Equal(72, waste.GetProperty("consumedMinutes").GetInt64());
        Assert.Equal(100, waste.GetProperty("includedMinutes").GetInt64());
        Assert.Equal(Math.Round(42.0 / 72, 4), waste.GetProperty("shareOfConsumed").GetDouble(), 9);
        Assert.Equal(0.42, waste.GetProperty("shareOfIncluded").GetDouble(), 9);

        // Most idle minutes first, then by name: ann 18, bob 12, cy 12.
        var users = waste.GetProperty("users").EnumerateArray().ToList();
        Assert.Equal(["ann", "bob", "cy"], users.Select(u => u.GetProperty("user").GetString()));
        Assert.Equal([(3L, 18L, 3L, 18L), (2, 12, 3, 18), (2, 12, 2, 12)], users.Select(Figures));
        Assert.Equal(3, waste.GetProperty("userCount").GetInt32());
        var app = Assert.Single(waste.GetProperty("apps").EnumerateArray());
        Assert.Equal(("sales", (7L, 42L, 8L, 48L), 3L), (app.GetProperty("app").GetString(), Figures(app), app.GetProperty("idleUsers").GetInt64()));
        Assert.Equal(1, waste.GetProperty("appCount").GetInt32());
        Assert.Equal(100, waste.GetProperty("limit").GetInt32());

        // Local hours: the reloads at 10:00, 11:00 and 12:00 UTC are 11, 12 and 13 in Paris.
        var hours = waste.GetProperty("hours").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, 24), hours.Select(h => h.GetProperty("hour").GetInt32()));
        Assert.Equal((1L, 6L, 2L, 12L), Figures(hours[11]));
        Assert.Equal((3L, 18L, 3L, 18L), Figures(hours[12]));
        Assert.Equal((3L, 18L, 3L, 18L), Figures(hours[13]));
        Assert.All(hours.Where(h => h.GetProperty("hour").GetInt32() is < 11 or > 13), h => Assert.Equal((0L, 0L, 0L, 0L), Figures(h)));

        // A quiet time of 80 minutes: only what was quiet that long is idle (ann at 11:00 was quiet 60: no longer idle).
        var longer = await (await read.GetAsync("/api/v1/usage/waste?period=2026-03&quietMinutes=80&limit=1")).Json();
        // 12:00: ann (120); 13:00: ann (180), bob (130), cy (90).
        Assert.Equal(4, longer.GetProperty("idleReloadUnits").GetInt64());
        Assert.Equal("ann", Assert.Single(longer.GetProperty("users").EnumerateArray()).GetProperty("user").GetString());
        Assert.Equal(3, longer.GetProperty("userCount").GetInt32());
        Assert.Equal(1, longer.GetProperty("limit").GetInt32());

        // Another period: nothing, and no share of nothing consumed.
        var april = await (await read.GetAsync("/api/v1/usage/waste?period=2026-04")).Json();
        Assert.Equal((0L, 0L), (april.GetProperty("reloadUnits").GetInt64(), april.GetProperty("consumedMinutes").GetInt64()));
        Assert.False(april.TryGetProperty("shareOfConsumed", out _));
        Assert.Equal(0, april.GetProperty("users").GetArrayLength());
        Assert.Equal(24, april.GetProperty("hours").GetArrayLength());
    }

    [Fact]
    public async Task Waste_Csv_RowsAreTheUsersAppsOrHoursAsAsked()
    {
        var (server, acme) = await ScenarioAsync();
        await using var running = server;
        using var read = server.Client(acme.Read);

        async Task<string> CsvAsync(string query)
        {
            using var response = await read.GetAsync("/api/v1/usage/waste?period=2026-03&format=csv" + query);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
            return await response.Content.ReadAsStringAsync();
        }

        var users = await CsvAsync("");
        Assert.Equal("user,idleReloadUnits,idleReloadMinutes,reloadUnits,reloadMinutes\r\nann,3,18,3,18\r\nbob,2,12,3,18\r\ncy,2,12,2,12\r\n", users);
        Assert.Equal(users, await CsvAsync("&by=user"));
        Assert.Equal("app,idleReloadUnits,idleReloadMinutes,reloadUnits,reloadMinutes,idleUsers\r\nsales,7,42,8,48,3\r\n", await CsvAsync("&by=app"));
        var hours = CsvExportTests.Parse(await CsvAsync("&by=hour"));
        Assert.Equal(24, hours.Count);
        Assert.Equal(["hour", "idleReloadUnits", "idleReloadMinutes", "reloadUnits", "reloadMinutes"], hours[0].Keys);
        Assert.Equal(["11", "1", "6", "2", "12"], hours[11].Values);
        Assert.Equal(["0", "0", "0", "0", "0"], hours[0].Values);
    }

    /// <summary>
    /// The meter key decides (R14): ann opens sales at 09:00 UTC and hr at 09:50 on the same device; sales and hr are
    /// reloaded at 10:00. In device mode both reloads fall on one key, (ann, pc), engaged 10 minutes before: one unit,
    /// not idle. In app mode each app is a key: (ann, sales) was last engaged an hour before (idle), (ann, hr) not.
    /// </summary>
    [Theory]
    [InlineData(CountingMode.Device, 1, 0)]
    [InlineData(CountingMode.App, 2, 1)]
    public async Task Waste_TheUnitsMeterKey_DecidesWhichEngagementCounts(CountingMode mode, long reloadUnits, long idleUnits)
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 100) with { Mode = mode });
        using (var ingest = server.Client(acme.Ingest))
        {
            await AtAsync(server, ingest, 0, Open("ann"));
            await AtAsync(server, ingest, 20, Heartbeat("ann"));
            await AtAsync(server, ingest, 40, Heartbeat("ann"));
            await AtAsync(server, ingest, 50, new { user = "ann", device = "ann-pc", app = "hr", action = "open-app" });
            await AtAsync(server, ingest, 60, Reload, new { app = "hr", action = "scheduled-reload" });
        }
        using var read = server.Client(acme.Read);
        var waste = await (await read.GetAsync("/api/v1/usage/waste")).Json();
        Assert.Equal((reloadUnits, idleUnits), (waste.GetProperty("reloadUnits").GetInt64(), waste.GetProperty("idleReloadUnits").GetInt64()));
        Assert.Equal(idleUnits == 0 ? [] : ["sales"], waste.GetProperty("apps").EnumerateArray().Select(a => a.GetProperty("app").GetString()));
    }

    [Theory]
    [InlineData("quietMinutes=0", "quietMinutes")]
    [InlineData("quietMinutes=10081", "quietMinutes")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=10001", "limit")]
    [InlineData("by=day", "by")]
    [InlineData("period=2026-13", "period")]
    [InlineData("format=xml", "format")]
    public async Task Waste_BadParameter_400NamingIt(string query, string field)
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var read = server.Client(acme.Read);
        using var response = await read.GetAsync("/api/v1/usage/waste?" + query);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(field + ":", (await response.Json()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Waste_KeysAndTenants_401WithoutKey_EachTenantSeesItsOwn_409ForAnObservingTenant()
    {
        var (server, acme) = await ScenarioAsync();
        await using var running = server;
        using (var anonymous = server.Client(null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/usage/waste")).StatusCode);
        }
        using (var admin = server.Client(acme.Admin))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/usage/waste")).StatusCode);
        }

        // globex: dan opens sales and is reloaded an hour later, once: only that is globex's.
        var globex = await server.TenantAsync("globex");
        using (var ingest = server.Client(globex.Ingest))
        {
            await AtAsync(server, ingest, 190, Open("dan"));
            await AtAsync(server, ingest, 215, Heartbeat("dan"));
            await AtAsync(server, ingest, 240, Reload);
        }
        using var globexRead = server.Client(globex.Read);
        var theirs = await (await globexRead.GetAsync("/api/v1/usage/waste?period=2026-03")).Json();
        Assert.Equal((1L, 1L), (theirs.GetProperty("reloadUnits").GetInt64(), theirs.GetProperty("idleReloadUnits").GetInt64()));
        Assert.Equal("dan", Assert.Single(theirs.GetProperty("users").EnumerateArray()).GetProperty("user").GetString());
        Assert.False(theirs.TryGetProperty("includedMinutes", out _));
        Assert.False(theirs.TryGetProperty("shareOfIncluded", out _));
        using var acmeRead = server.Client(acme.Read);
        Assert.Equal(8, (await (await acmeRead.GetAsync("/api/v1/usage/waste?period=2026-03")).Json()).GetProperty("reloadUnits").GetInt64());

        // A tenant observing a source has no reload units to tell apart.
        var observer = await server.TenantAsync("obs");
        using var observerAdmin = server.Client(observer.Admin);
        Assert.Equal(HttpStatusCode.Created, (await observerAdmin.PostAsJsonAsync("/api/v1/sources",
            new { id = "cloud", kind = "qlik-cloud", url = "https://qlik.example", apiKey = "0123456789" })).StatusCode);
        using var observed = await server.Client(observer.Read).GetAsync("/api/v1/usage/waste");
        Assert.Equal(HttpStatusCode.Conflict, observed.StatusCode);
        Assert.Contains("does not record what started a unit", (await observed.Json()).GetProperty("detail").GetString());
    }
}
