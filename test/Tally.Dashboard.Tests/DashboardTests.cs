using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Tally.Server.Dashboard;

namespace Tally.Dashboard.Tests;

/// <summary>The dashboard in a real browser (Debian's chromium, headless) against a real server on loopback.</summary>
[Collection(BrowserCollection.Name)]
public sealed class DashboardTests(Browser browser, DemoServer demo)
{
    private static readonly string[] Figures = ["consumed", "included", "remaining", "overage", "units", "denied"];

    private static async Task WaitForValueAsync(IPage page, string id, string value, int timeoutMs = 8000) =>
        await page.WaitForFunctionAsync("([id, v]) => document.getElementById(id)?.dataset.value === v", new[] { id, value },
            new PageWaitForFunctionOptions { Timeout = timeoutMs, PollingInterval = 100 });

    [Fact]
    public async Task Demo_ForecastPanel_ShowsTheRangeAndModel_AsTheApisSummaryGivesThem()
    {
        var server = demo.Server;
        using var api = server.Client(demo.ReadKey);
        var page = await browser.PageAsync(1280, 900);
        await Pages.SignInAsync(page, server.Address, demo.ReadKey);
        await page.WaitForFunctionAsync("() => (document.getElementById('forecast-range')?.textContent || '').length > 0",
            null, new PageWaitForFunctionOptions { Timeout = 8000, PollingInterval = 100 });
        // Read after the page drew, and compared on the figures the summary gives (the demo's clock stands still).
        var forecast = (await api.GetJsonAsync("/api/v1/usage/summary")).GetProperty("forecast");
        var range = forecast.GetProperty("range");
        static string Min(double v) => Math.Round(v, MidpointRounding.AwayFromZero).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        var text = await page.Locator("[data-testid=forecast-range]").TextContentAsync();
        Assert.Contains($"forecast {Min(forecast.GetProperty("projectedDemandMinutes").GetDouble())} min (10–90 %: "
            + $"{Min(range.GetProperty("projectedDemandLowMinutes").GetDouble())}–{Min(range.GetProperty("projectedDemandHighMinutes").GetDouble())})", text);
        Assert.True(range.GetProperty("projectedDemandLowMinutes").GetDouble() <= range.GetProperty("projectedDemandHighMinutes").GetDouble());
        if (forecast.GetProperty("includedRunOutOutcome").GetString() == "projected")
        {
            Assert.Contains("runs out ", text);
            Assert.Contains(", between ", text);
        }
        var model = forecast.GetProperty("model");
        var modelText = await page.Locator("[data-testid=forecast-model]").TextContentAsync();
        Assert.Contains(model.TryGetProperty("holidayCountry", out var country) && country.ValueKind == System.Text.Json.JsonValueKind.String
            ? $"holidays {country.GetString()}" : "no public holidays", modelText);
        Assert.Contains("%/week", modelText);
        // The chart draws the range only when it has a spread; the point forecast's line is always there.
        var spread = range.GetProperty("projectedDemandHighMinutes").GetDouble() > range.GetProperty("projectedDemandLowMinutes").GetDouble();
        Assert.Equal(spread ? 1 : 0, await page.Locator("#chart [data-series=forecast-range]").CountAsync());
        Assert.Equal(1, await page.Locator("#chart [data-series=forecast]").CountAsync());
    }

    [Fact]
    public async Task Demo_SignedIn_ShowsTheApisNumbers_DrawsTheCharts_AndSavesScreenshots()
    {
        var server = demo.Server;
        var readKey = demo.ReadKey;
        using var api = server.Client(readKey);
        var summary = await api.GetJsonAsync("/api/v1/usage/summary");
        var users = await api.GetJsonAsync("/api/v1/usage/users?limit=10");
        Assert.True(summary.GetProperty("consumedMinutes").GetInt64() > 1000, "the demo has a month of history");

        var page = await browser.PageAsync(1280, 900);
        await Pages.SignInAsync(page, server.Address, readKey);
        await WaitForValueAsync(page, "consumed", summary.GetProperty("consumedMinutes").GetInt64().ToString());
        foreach (var (id, field) in Figures.Zip(new[] { "consumedMinutes", "includedMinutes", "remainingMinutes", "overageMinutes", "units", "deniedEvents" }))
        {
            Assert.Equal(summary.GetProperty(field).GetInt64().ToString(), await page.Locator($"#{id}").GetAttributeAsync("data-value"));
            // What is shown is the same number, only grouped in thousands.
            Assert.Equal(summary.GetProperty(field).GetInt64().ToString(), (await page.Locator($"#{id}").TextContentAsync())!.Replace(",", ""));
        }
        Assert.Equal(summary.GetProperty("runRate").GetProperty("status").GetString()!.Replace("-", ""), await page.Locator("#runrate").GetAttributeAsync("data-value"));
        Assert.DoesNotContain("not available", await page.Locator("#forecast").TextContentAsync());

        // The charts have drawn: a consumed curve with many steps, the forecast and included lines, bars per day.
        var curve = await page.Locator("#chart path[data-series=consumed]").GetAttributeAsync("d");
        Assert.True(curve!.Length > 500, "the cumulative curve has a step per unit");
        Assert.Equal(1, await page.Locator("#chart [data-series=forecast]").CountAsync());
        Assert.Equal(1, await page.Locator("#chart [data-series=included]").CountAsync());
        Assert.Equal(1, await page.Locator("#chart [data-series=cap]").CountAsync());
        Assert.True(await page.Locator("#daily rect").CountAsync() >= 20, "a bar for each day so far");

        // Tables, license and advice come from the API too.
        var firstUser = users.GetProperty("users")[0];
        Assert.Equal(firstUser.GetProperty("user").GetString(), await page.Locator("#users-table tbody tr").First.Locator("td").First.TextContentAsync());
        Assert.Equal(firstUser.GetProperty("minutes").GetInt64().ToString(),
            await page.Locator("#users-table tbody tr").First.Locator("td[data-key=minutes]").GetAttributeAsync("data-value"));
        Assert.Equal(10, await page.Locator("#users-table tbody tr").CountAsync());
        Assert.Contains("of 2 in use", await page.Locator("[data-testid=license-terms]").TextContentAsync());
        Assert.True(await page.Locator("[data-testid=denied-table] tbody tr").CountAsync() > 0, "the demo has denied events");
        Assert.Contains("Break-even", await page.Locator("#advisor").TextContentAsync());

        // Searching and sorting go through the API.
        await page.GetByLabel("Search users").FillAsync("u00007");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#users-table tbody tr').length === 1");
        Assert.Equal("u00007", await page.Locator("#users-table tbody td").First.TextContentAsync());
        await page.GetByLabel("Search users").FillAsync("");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#users-table tbody tr').length === 10");

        await page.Locator("#main").FocusAsync();
        var shots = Screenshots();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard-1280.png"), FullPage = true });
        await page.SetViewportSizeAsync(390, 844);
        // The charts are redrawn for the new width (after the resize handler's pause): wait for that, not for a time.
        await page.WaitForFunctionAsync("() => document.querySelector('#chart svg')?.getAttribute('width') === String(document.getElementById('chart').clientWidth)");
        // Nothing is wider than the phone's screen: tables scroll inside their panels.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= 391"), "no horizontal page scroll at 390 px");
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard-390.png") });

        // The period picker: last month's figures, as the API gives them for that period.
        var february = await api.GetJsonAsync("/api/v1/usage/summary?period=2026-02");
        await page.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync("2026-02");
        await WaitForValueAsync(page, "consumed", february.GetProperty("consumedMinutes").GetInt64().ToString());
        Assert.Equal(february.GetProperty("overageMinutes").GetInt64().ToString(), await page.Locator("#overage").GetAttributeAsync("data-value"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Sources_AMeteredTenantSaysSo_AnObservingOneListsItsSourcesWithTheirState()
    {
        await using var server = await DashboardServer.StartAsync();
        var keys = await server.LicensedTenantAsync("acme");
        var page = await browser.PageAsync(1280, 900);
        await Pages.SignInAsync(page, server.Address, keys.Read);
        await page.WaitForFunctionAsync("() => document.getElementById('sources')?.textContent.includes('Metered by Tally')");

        // The server's scheduler runs on the test's fake clock, which stays still: the source stays new, never pulled.
        using var admin = server.Client(keys.Admin);
        (await admin.PostAsJsonAsync("/api/v1/sources", new { id = "qlik", kind = "qlik-cloud", url = "https://acme.eu.qlikcloud.com", apiKey = "eyJhbGciOi-not-a-real-key" }))
            .EnsureSuccessStatusCode();
        // No reload: the version the page polls stamps the tenant's sources too, so a new one is read at the next poll.
        var source = page.Locator("[data-testid=source-list] li");
        await source.WaitForAsync(new LocatorWaitForOptions { Timeout = 15_000 });
        Assert.Equal("new", await source.GetAttributeAsync("data-state"));
        var text = await source.TextContentAsync();
        Assert.Contains("qlik (qlik-cloud)", text);
        Assert.Contains("never read", text);
        Assert.DoesNotContain("not-a-real-key", await page.ContentAsync());
    }

    [Fact]
    public async Task NewTenant_ShowsTheEmptyState_ThenANewUnitLive_ThenAnOutage()
    {
        await using var server = await DashboardServer.StartAsync();
        var keys = await server.LicensedTenantAsync("acme");
        var page = await browser.PageAsync(1280, 900);
        await page.AddInitScriptAsync("performance.setResourceTimingBufferSize(10000)");
        await Pages.SignInAsync(page, server.Address, keys.Read);
        await WaitForValueAsync(page, "included", "2000");
        Assert.True(await page.Locator("#empty").IsVisibleAsync(), "a new tenant sees the empty state");
        await page.EvaluateAsync("() => { window.notReloaded = true; }");

        using var ingest = server.Client(keys.Ingest);
        // "Within a few seconds" is counted in polls, not read off a clock: the unit shows at the first or second poll after it was sent.
        const string SummaryPolls = "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/usage/summary')).length";
        var pollsBefore = await page.EvaluateAsync<int>(SummaryPolls);
        (await ingest.PostAsJsonAsync("/api/v1/events", new[] { new { id = "e1", user = "ann", app = "sales", action = "open-app" } })).EnsureSuccessStatusCode();
        await WaitForValueAsync(page, "consumed", "6", 30_000);
        Assert.InRange(await page.EvaluateAsync<int>(SummaryPolls) - pollsBefore, 1, 2);
        await WaitForValueAsync(page, "active", "1");
        Assert.Equal("1", await page.Locator("#units").GetAttributeAsync("data-value"));
        Assert.True(await page.EvaluateAsync<bool>("() => window.notReloaded === true"), "updated without reloading");
        Assert.False(await page.Locator("#empty").IsVisibleAsync());
        Assert.Equal("ann", await page.Locator("#users-table tbody td").First.TextContentAsync());

        await server.StopAsync();
        await page.Locator("#banner").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = 8000 });
        Assert.Contains("Cannot reach the Tally server", await page.Locator("#banner").TextContentAsync());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task WrongKeys_AreRefused_AndSignOut_EndsTheSession()
    {
        await using var server = await DashboardServer.StartAsync();
        var keys = await server.LicensedTenantAsync("acme");
        var page = await browser.PageAsync(390, 844);

        await Pages.SignInAsync(page, server.Address, "tally_000000000000_not-a-key");
        await Assertions.Expect(page.Locator("#signin-error")).ToContainTextAsync("refused");
        await page.GetByLabel("API key").FillAsync(keys.Ingest);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.Locator("#signin-error")).ToContainTextAsync("read or admin");
        Assert.Empty(await page.Context.CookiesAsync());

        await page.GetByLabel("API key").FillAsync(keys.Read);
        await page.Keyboard.PressAsync("Enter");
        await WaitForValueAsync(page, "included", "2000");
        var cookie = Assert.Single(await page.Context.CookiesAsync());
        Assert.Equal(DashboardSessions.CookieName, cookie.Name);
        Assert.True(cookie.HttpOnly);
        Assert.True(cookie.Secure);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(keys.Read, cookie.Value);
        Assert.False(await page.EvaluateAsync<bool>("() => document.cookie.includes('tally_session')"), "scripts cannot read the session");

        // The cookie reads, but never writes: a POST with it alone is refused.
        using var withCookie = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = server.Address };
        HttpRequestMessage Request(HttpMethod method, string path)
        {
            var request = new HttpRequestMessage(method, path);
            request.Headers.Add("Cookie", $"{cookie.Name}={cookie.Value}");
            return request;
        }
        Assert.Equal(HttpStatusCode.OK, (await withCookie.SendAsync(Request(HttpMethod.Get, "/api/v1/usage/summary"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await withCookie.SendAsync(Request(HttpMethod.Post, "/api/v1/api-keys"))).StatusCode);

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.Locator("#signin")).ToBeVisibleAsync();
        Assert.Empty(await page.Context.CookiesAsync());
        // The old cookie value is dead on the server too.
        Assert.Equal(HttpStatusCode.Unauthorized, (await withCookie.SendAsync(Request(HttpMethod.Get, "/api/v1/usage/summary"))).StatusCode);
        await page.Context.CloseAsync();
    }

    /// <summary>docs/screenshots in the repository this test was built from.</summary>
    private static string Screenshots()
    {
        var shots = Repository.PathOf("docs/screenshots");
        Directory.CreateDirectory(shots);
        return shots;
    }
}
