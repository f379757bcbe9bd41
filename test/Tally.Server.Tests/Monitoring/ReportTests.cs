using System.Net;
using System.Text.Json;
using Tally.Metering;

namespace Tally.Server.Tests.Monitoring;

public sealed class ReportTests
{
    private static object Open(string user, string app = "sales") => new { user, app, action = "open-app" };

    [Fact]
    public async Task Summary_RunRateAndForecast_MatchHandComputedWeekOfHistory()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        // 90 included minutes, 30 of overage: limit 120. March 2026 has 744 hours.
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 90, OverageAllowance.Capped(30)));
        using var ingest = server.Client(acme.Ingest);
        // Tuesday 10 March 09:00 UTC: five users, one unit each: 30 minutes in that hour, nothing else all week.
        await ingest.SendEventsAsync(Open("u1"), Open("u2"), Open("u3"), Open("u4"), Open("u5"));
        server.Time.Advance(TimeSpan.FromDays(7));

        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(30, summary.GetProperty("consumedMinutes").GetInt64());

        // Run-rate at Tue 17 March 09:00: elapsed 16 d 9 h = 393 h of 744; expected = 90 × 393/744.
        var runRate = summary.GetProperty("runRate");
        var expected = 90.0 * 393 / 744;
        // Sent to a tenth of a minute and of a percent, the share to four decimals (WireNumber).
        Assert.Equal(0.5282, runRate.GetProperty("elapsedShare").GetDouble(), 9);
        Assert.Equal(Math.Round(expected, 1), runRate.GetProperty("expectedMinutes").GetDouble(), 9);
        Assert.Equal(Math.Round(30 - expected, 1), runRate.GetProperty("deltaMinutes").GetDouble(), 9);
        Assert.Equal(Math.Round((30 - expected) / expected * 100, 1), runRate.GetProperty("deltaPercent").GetDouble(), 9);
        Assert.Equal("behind", runRate.GetProperty("status").GetString());

        // The history is exactly one week (from the first event): slot (Tuesday, 09h) = 30 min/h, every other slot 0.
        // The rest of March holds three Tuesday 09:00 hours (17, 24, 31): +90 → 120. Included (90) is reached at the
        // end of 24 March 09–10h, the limit (120) at the end of 31 March 09–10h.
        var forecast = summary.GetProperty("forecast");
        Assert.Equal("weekday-aware", forecast.GetProperty("method").GetString());
        Assert.Equal(120, forecast.GetProperty("projectedDemandMinutes").GetDouble(), 9);
        Assert.Equal(120, forecast.GetProperty("projectedMinutes").GetDouble(), 9);
        Assert.Equal(new DateTimeOffset(2026, 3, 24, 10, 0, 0, TimeSpan.Zero), forecast.GetProperty("includedRunOut").GetDateTimeOffset());
        Assert.Equal("projected", forecast.GetProperty("includedRunOutOutcome").GetString());
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 10, 0, 0, TimeSpan.Zero), forecast.GetProperty("limitRunOut").GetDateTimeOffset());
        Assert.Equal(168, forecast.GetProperty("historyHours").GetInt32());
        Assert.Equal(TestServer.Start, forecast.GetProperty("historyStart").GetDateTimeOffset());
        Assert.Equal("slot", forecast.GetProperty("rateSource").GetString());
    }

    [Fact]
    public async Task Summary_PoolOutlastsPeriod_RunOutsAbsentAndOutcomeNotWithinPeriod()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 10, packMinutes: 1000));
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"));
        server.Time.Advance(TimeSpan.FromDays(1));
        using var read = server.Client(acme.Read);
        var forecast = (await (await read.GetAsync("/api/v1/usage/summary")).Json()).GetProperty("forecast");
        // One day of history with one 6-minute hour: 6 × 21 remaining days (+ today's 09:00 hour at 11 March) ≪ 10,000.
        Assert.False(forecast.TryGetProperty("includedRunOut", out _));
        Assert.Equal("not-within-period", forecast.GetProperty("includedRunOutOutcome").GetString());
        Assert.True(forecast.GetProperty("projectedMinutes").GetDouble() < 10_000);
    }

    [Fact]
    public async Task Summary_NoLicense_NoRunRate_ForecastNeverRunsOut()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"));
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.False(summary.TryGetProperty("runRate", out _));
        Assert.Equal("never", summary.GetProperty("forecast").GetProperty("includedRunOutOutcome").GetString());
    }

    [Fact]
    public async Task Timeline_HourAndDayBuckets_CountUnitsMinutesUsersAndDenials()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 24));
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"), Open("bob"));                 // 10 Mar 09:00: 2 units
        server.Time.Advance(TimeSpan.FromMinutes(70));
        await ingest.SendEventsAsync(Open("ann"));                              // 10:10: 1 unit
        server.Time.Advance(TimeSpan.FromDays(1));
        await ingest.SendEventsAsync(Open("cy"), Open("dan"), Open("eve"));    // 11 Mar 10:10: 1 unit (24 min used), 2 denied

        using var read = server.Client(acme.Read);
        var hours = (await (await read.GetAsync("/api/v1/usage/timeline?granularity=hour")).Json()).GetProperty("buckets");
        // From 1 March 00:00 to the hour holding now (11 March 10:10): 10 days × 24 + 11 hours.
        Assert.Equal((10 * 24) + 11, hours.GetArrayLength());
        var nine = hours[(9 * 24) + 9];
        Assert.Equal(new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero), nine.GetProperty("start").GetDateTimeOffset());
        Assert.Equal(2, nine.GetProperty("units").GetInt64());
        Assert.Equal(12, nine.GetProperty("minutes").GetInt64());
        Assert.Equal(2, nine.GetProperty("activeUsers").GetInt64());
        Assert.Equal(1, hours[(9 * 24) + 10].GetProperty("activeUsers").GetInt64());
        var last = hours[hours.GetArrayLength() - 1];
        Assert.Equal(1, last.GetProperty("units").GetInt64());
        Assert.Equal(2, last.GetProperty("deniedEvents").GetInt64());
        Assert.Equal(3, last.GetProperty("activeUsers").GetInt64());

        var days = (await (await read.GetAsync("/api/v1/usage/timeline?granularity=day&period=2026-03")).Json()).GetProperty("buckets");
        Assert.Equal(11, days.GetArrayLength());
        Assert.Equal(3, days[9].GetProperty("units").GetInt64());
        Assert.Equal(18, days[9].GetProperty("minutes").GetInt64());
        Assert.Equal(2, days[9].GetProperty("activeUsers").GetInt64());
        Assert.Equal(new DateTimeOffset(2026, 3, 11, 0, 0, 0, TimeSpan.Zero), days[10].GetProperty("start").GetDateTimeOffset());
        Assert.Equal(2, days[10].GetProperty("deniedEvents").GetInt64());
        Assert.Equal(0, days[0].GetProperty("units").GetInt64());

        await (await read.GetAsync("/api/v1/usage/timeline?granularity=week")).AssertProblemAsync(HttpStatusCode.BadRequest, "granularity: must be hour or day.");
    }

    [Fact]
    public async Task Users_CapShown_IsTheCapTheMeterApplies_GroupsAndAnonymousIncluded()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        (await admin.PutAsync("/api/v1/allocations", JsonContent("""
            {"users":[{"user":"dan","groups":["sales"]},{"user":"eve","capMinutes":18}],
             "groupCapMinutes":{"sales":12,"anonymous":6},"everyoneCapMinutes":24}
            """))).EnsureSuccessStatusCode();
        using var ingest = server.Client(acme.Ingest);
        // Five units' worth of engagement each, six minutes apart: each user runs into their own cap.
        for (var i = 0; i < 5; i++)
        {
            await ingest.SendEventsAsync(Open("dan"), Open("eve"), Open("anon:1"), Open("fay"));
            server.Time.Advance(TimeSpan.FromMinutes(7));
        }

        using var read = server.Client(acme.Read);
        var users = (await (await read.GetAsync("/api/v1/usage/users?sort=user")).Json()).GetProperty("users").EnumerateArray()
            .ToDictionary(u => u.GetProperty("user").GetString()!, u => (Cap: u.GetProperty("capMinutes").GetInt64(), Minutes: u.GetProperty("minutes").GetInt64()));
        // dan: his group's 12 under everyone's 24; eve: her own 18; anon:1: the anonymous group's 6; fay: everyone's 24.
        Assert.Equal(12, users["dan"].Cap);
        Assert.Equal(18, users["eve"].Cap);
        Assert.Equal(6, users["anon:1"].Cap);
        Assert.Equal(24, users["fay"].Cap);
        // The meter stopped each of them at that same cap.
        Assert.All(users.Values, u => Assert.Equal(u.Cap, u.Minutes));
    }

    [Fact]
    public async Task Users_SortPageSearchAndCsv()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        (await admin.PutAsync("/api/v1/users/carol", JsonContent("""{"capMinutes":60}"""))).EnsureSuccessStatusCode();
        using var ingest = server.Client(acme.Ingest);
        // alice: 3 units on 2 apps; bob: 1 unit; carol: 2 units, last active latest.
        await ingest.SendEventsAsync(
            new { user = "alice", app = "a", device = "d1", action = "open-app" },
            new { user = "alice", app = "b", device = "d2", action = "open-app" },
            Open("bob", "a"), Open("carol", "a"));
        server.Time.Advance(TimeSpan.FromMinutes(7));
        await ingest.SendEventsAsync(new { user = "alice", app = "a", device = "d1", action = "select" });
        server.Time.Advance(TimeSpan.FromMinutes(7));
        await ingest.SendEventsAsync(new { user = "carol", app = "a", action = "select" });

        using var read = server.Client(acme.Read);
        var byMinutes = await (await read.GetAsync("/api/v1/usage/users")).Json();
        Assert.Equal(["alice", "carol", "bob"], Names(byMinutes, "users", "user"));
        Assert.Equal(3, byMinutes.GetProperty("total").GetInt32());
        var alice = byMinutes.GetProperty("users")[0];
        Assert.Equal(3, alice.GetProperty("units").GetInt64());
        Assert.Equal(18, alice.GetProperty("minutes").GetInt64());
        Assert.Equal(2, alice.GetProperty("apps").GetInt64());
        Assert.Equal("capacity", alice.GetProperty("allocation").GetString());
        Assert.Equal(60, byMinutes.GetProperty("users")[1].GetProperty("capMinutes").GetInt64());

        Assert.Equal(["carol", "alice", "bob"], Names(await (await read.GetAsync("/api/v1/usage/users?sort=lastActivity")).Json(), "users", "user"));
        Assert.Equal(["bob", "carol"], Names(await (await read.GetAsync("/api/v1/usage/users?sort=units&order=asc&limit=2")).Json(), "users", "user"));
        var page2 = await (await read.GetAsync("/api/v1/usage/users?sort=user&limit=2&offset=2")).Json();
        Assert.Equal(["carol"], Names(page2, "users", "user"));
        Assert.Equal(3, page2.GetProperty("total").GetInt32());
        Assert.Equal(["alice"], Names(await (await read.GetAsync("/api/v1/usage/users?search=LIC")).Json(), "users", "user"));
        Assert.Equal(["carol"], Names(await (await read.GetAsync("/api/v1/usage/users?sort=cap&limit=1")).Json(), "users", "user"));

        var csv = await read.GetAsync("/api/v1/usage/users?format=csv&sort=user");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("user,units,minutes,deniedEvents,apps,lastActivity,allocation,capMinutes", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("alice,3,18,0,2,2026-03-10T09:07:00", lines[1]);

        var apps = await (await read.GetAsync("/api/v1/usage/apps?sort=users")).Json();
        Assert.Equal(["a", "b"], Names(apps, "apps", "app"));
        Assert.Equal(3, apps.GetProperty("apps")[0].GetProperty("users").GetInt64());

        var summaryCsv = await (await read.GetAsync("/api/v1/usage/summary?format=csv")).Content.ReadAsStringAsync();
        var summaryLines = summaryCsv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, summaryLines.Length);
        Assert.Contains("forecast.projectedMinutes", summaryLines[0].Split(','));

        await (await read.GetAsync("/api/v1/usage/users?sort=nope")).AssertProblemAsync(HttpStatusCode.BadRequest, "sort: must be one of");
        await (await read.GetAsync("/api/v1/usage/users?limit=1001")).AssertProblemAsync(HttpStatusCode.BadRequest, "limit: must be between 1 and");
        await (await read.GetAsync("/api/v1/usage/users?format=xml")).AssertProblemAsync(HttpStatusCode.BadRequest, "format: must be json or csv.");
    }

    [Fact]
    public async Task SeatAdvice_HeavyCapacityUserToSeat_WithSavingAndBreakEven()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        // heavy: 5 units = 30 minutes; light: 1 unit = 6 minutes.
        await ingest.SendEventsAsync(Open("heavy"), Open("light"));
        for (var i = 0; i < 4; i++)
        {
            server.Time.Advance(TimeSpan.FromMinutes(6));
            await ingest.SendEventsAsync(new { user = "heavy", app = "sales", action = "select" });
        }
        using var read = server.Client(acme.Read);
        // Seat 2, pack 10 for 100 minutes: 0.1 a minute, break-even 20 minutes; heavy costs 3 on capacity.
        var advice = await (await read.GetAsync("/api/v1/advice/seats?seatPrice=2&packPrice=10&packMinutes=100")).Json();
        Assert.Equal(20m, advice.GetProperty("breakEvenMinutes").GetDecimal());
        var toSeat = advice.GetProperty("toAnalyzerSeat");
        Assert.Equal(1, toSeat.GetArrayLength());
        Assert.Equal("heavy", toSeat[0].GetProperty("user").GetString());
        Assert.Equal(30, toSeat[0].GetProperty("monthlyMinutes").GetInt64());
        Assert.Equal(1m, toSeat[0].GetProperty("monthlySaving").GetDecimal());
        Assert.Equal(1m, advice.GetProperty("totalMonthlySaving").GetDecimal());
        await (await read.GetAsync("/api/v1/advice/seats?seatPrice=2&packPrice=0")).AssertProblemAsync(HttpStatusCode.BadRequest, "packPrice", field: "packPrice");
        await (await read.GetAsync("/api/v1/advice/seats")).AssertProblemAsync(HttpStatusCode.BadRequest, "seatPrice and packPrice are required");
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static List<string> Names(JsonElement report, string array, string field) =>
        [.. report.GetProperty(array).EnumerateArray().Select(r => r.GetProperty(field).GetString()!)];
}
