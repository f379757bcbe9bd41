using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.Server.Tests;

/// <summary>GET and PUT /api/v1/calendar (issue 16): stored per tenant, resolved in the license's zone, used by the forecast.</summary>
public sealed class CalendarEndpointTests
{
    private static async Task<JsonElement> CalendarAsync(HttpClient client) => await (await client.GetAsync("/api/v1/calendar")).Json();

    private static async Task<JsonElement> ModelAsync(HttpClient client) =>
        (await (await client.GetAsync("/api/v1/usage/summary")).Json()).GetProperty("forecast").GetProperty("model");

    [Fact]
    public async Task Calendar_AutoFollowsTheZone_PutIsStoredUsedByTheForecastAndSurvivesARestart()
    {
        await using var first = await TestServer.StartAsync();
        var acme = await first.TenantAsync("acme");
        var other = await first.TenantAsync("other");
        await first.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 600) with { TimeZoneId = "Europe/Paris" });
        using (var read = first.Client(acme.Read))
        {
            var auto = await CalendarAsync(read);
            Assert.Equal(("auto", "FR", "Europe/Paris", 0), (auto.GetProperty("holidays").GetString(), auto.GetProperty("holidayCountry").GetString(),
                auto.GetProperty("timeZone").GetString(), auto.GetProperty("closedDays").GetArrayLength()));
            // From 10 March 2026: Easter Monday is France's next public holiday.
            var next = auto.GetProperty("nextClosedDays").EnumerateArray().ToList();
            Assert.Equal(10, next.Count);
            Assert.Equal(("2026-04-06", "holiday"), (next[0].GetProperty("date").GetString(), next[0].GetProperty("reason").GetString()));
            Assert.Equal("FR", (await ModelAsync(read)).GetProperty("holidayCountry").GetString());
        }

        using (var admin = first.Client(acme.Admin))
        {
            var put = await admin.PutAsJsonAsync("/api/v1/calendar", new { holidays = "de", closedDays = new[] { "2026-03-20", "2026-12-24", "2026-03-20" } });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var saved = await put.Json();
            Assert.Equal(("DE", "DE"), (saved.GetProperty("holidays").GetString(), saved.GetProperty("holidayCountry").GetString()));
            Assert.Equal(["2026-03-20", "2026-12-24"], saved.GetProperty("closedDays").EnumerateArray().Select(d => d.GetString()));
            var next = saved.GetProperty("nextClosedDays")[0];
            Assert.Equal(("2026-03-20", "closure"), (next.GetProperty("date").GetString(), next.GetProperty("reason").GetString()));
            var model = await ModelAsync(admin);
            Assert.Equal(("DE", 2), (model.GetProperty("holidayCountry").GetString(), model.GetProperty("closureDays").GetInt32()));
        }
        using (var otherRead = first.Client(other.Read))
        {
            // Another tenant's calendar is its own: no license, so UTC, which is no country's.
            var untouched = await CalendarAsync(otherRead);
            Assert.Equal(("auto", JsonValueKind.Null, 0), (untouched.GetProperty("holidays").GetString(),
                untouched.TryGetProperty("holidayCountry", out var c) ? c.ValueKind : JsonValueKind.Null, untouched.GetProperty("closedDays").GetArrayLength()));
        }

        await using var second = await first.RestartAsync();
        using var again = second.Client(acme.Admin);
        Assert.Equal("DE", (await CalendarAsync(again)).GetProperty("holidayCountry").GetString());
        Assert.Equal("DE", (await ModelAsync(again)).GetProperty("holidayCountry").GetString());
        // Back to auto: the zone's country again, and a new license in another zone moves it with the zone.
        Assert.Equal(HttpStatusCode.OK, (await again.PutAsJsonAsync("/api/v1/calendar", new { holidays = "auto" })).StatusCode);
        Assert.Equal("FR", (await CalendarAsync(again)).GetProperty("holidayCountry").GetString());
        await second.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 600) with { LicenseId = "L-2", TimeZoneId = "America/New_York" });
        Assert.Equal("US", (await CalendarAsync(again)).GetProperty("holidayCountry").GetString());
        Assert.Equal("US", (await ModelAsync(again)).GetProperty("holidayCountry").GetString());
    }

    [Fact]
    public async Task Put_BadInput_IsRefusedNamingTheField_AndNothingIsApplied()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/calendar", new { holidays = "FR", closedDays = new[] { "2026-12-24" } })).StatusCode);

        async Task Refused(object body, string detail, string field)
        {
            using var response = await admin.PutAsJsonAsync("/api/v1/calendar", body);
            await response.AssertProblemAsync(HttpStatusCode.BadRequest, detail, field);
        }
        await Refused(new { holidays = "XX" }, "holidays: 'XX' is not a country whose public holidays are known", "holidays");
        await Refused(new { holidays = "DE", closedDays = new[] { "2026-12-24", "2026-12-31", "31/12/2026" } },
            "closedDays[2]: '31/12/2026' is not a date (YYYY-MM-DD).", "closedDays[2]");
        await Refused(new { closedDays = new string?[] { null } }, "closedDays[0]: null is not a date", "closedDays[0]");
        await Refused(new { closedDays = Enumerable.Range(0, 1001).Select(i => new DateOnly(2026, 1, 1).AddDays(i).ToString("yyyy-MM-dd")).ToArray() },
            "closedDays: at most 1000 closed days, not 1001.", "closedDays");

        var kept = await CalendarAsync(admin);
        Assert.Equal(("FR", 1), (kept.GetProperty("holidays").GetString(), kept.GetProperty("closedDays").GetArrayLength()));
        // A read key sees the calendar but may not change it.
        using var read = server.Client(acme.Read);
        Assert.Equal(HttpStatusCode.Forbidden, (await read.PutAsJsonAsync("/api/v1/calendar", new { holidays = "none" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await read.GetAsync("/api/v1/calendar")).StatusCode);
    }
}
