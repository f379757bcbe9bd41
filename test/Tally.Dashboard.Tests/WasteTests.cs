using System.Net.Http.Json;
using Microsoft.Playwright;

namespace Tally.Dashboard.Tests;

/// <summary>The panel "Minutes charged by reloads to idle users" (rule R14) draws what <c>/api/v1/usage/waste</c> says.</summary>
[Collection(BrowserCollection.Name)]
public sealed class WasteTests(Browser browser)
{
    [Fact]
    public async Task IdleUserChargedByThreeHourlyReloads_ShowsInThePanel_ByAppUserAndHour()
    {
        await using var server = await DashboardServer.StartAsync();
        var keys = await server.LicensedTenantAsync("acme");
        using var ingest = server.Client(keys.Ingest);
        // 14:30 UTC: ann opens sales and leaves it open (her client only sends heartbeats); bob works in it every ten
        // minutes. Scheduled reloads of sales at 15:00, 16:00 and 17:00 charge ann, idle each time; bob's running unit
        // covers each of his.
        await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app" }, new { user = "bob", app = "sales", action = "open-app" });
        for (var minute = 10; minute <= 150; minute += 10)
        {
            server.Time.Advance(TimeSpan.FromMinutes(10));
            await ingest.SendEventsAsync(new { user = "ann", action = "heartbeat" }, new { user = "bob", app = "sales", action = "select" });
            if (minute % 60 == 30)
            {
                var reload = await ingest.SendEventsAsync(new { app = "sales", action = "scheduled-reload" });
                Assert.Contains("charged", reload.ToString());
            }
        }
        using var read = server.Client(keys.Read);
        var waste = await read.GetJsonAsync("/api/v1/usage/waste?limit=5");
        Assert.Equal(18, waste.GetProperty("idleReloadMinutes").GetInt64());
        Assert.Equal(3, waste.GetProperty("idleReloadUnits").GetInt64());

        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, server.Address, keys.Read);
        await Assertions.Expect(page.Locator("[data-testid=waste-summary]")).ToHaveAttributeAsync("data-value", "18");
        var summary = await page.Locator("[data-testid=waste-summary]").TextContentAsync();
        Assert.Contains("18 min in 3 units", summary, StringComparison.Ordinal);
        Assert.Contains("0.9 % of included", summary, StringComparison.Ordinal); // 18 of 2,000 included minutes
        Assert.Contains("idle for 30 minutes", summary, StringComparison.Ordinal);
        var apps = await page.Locator("[data-testid=waste-apps] li").AllTextContentsAsync();
        Assert.Equal(["sales: 18 min, 3 units · 1 idle user"], apps);
        var users = await page.Locator("[data-testid=waste-users] li").AllTextContentsAsync();
        Assert.Equal(["ann: 18 min, 3 units of 18 min from reloads"], users); // bob was never idle
        var hours = page.Locator("#waste-hours g[data-hour]");
        await Assertions.Expect(hours).ToHaveCountAsync(24);
        for (var hour = 0; hour < 24; hour++)
        {
            var expected = hour is 15 or 16 or 17 ? "6" : "0";
            Assert.Equal(expected, await hours.Nth(hour).GetAttributeAsync("data-minutes"));
        }
        Assert.Equal(3, await page.Locator("#waste-hours rect").CountAsync());
        Assert.Contains("at 15:00", await page.Locator("#waste-hours").GetAttributeAsync("aria-label"), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task NoReloads_ThePanelSaysSo()
    {
        await using var server = await DashboardServer.StartAsync();
        var keys = await server.LicensedTenantAsync("acme");
        using var ingest = server.Client(keys.Ingest);
        (await ingest.PostAsJsonAsync("/api/v1/events", new[] { new { user = "ann", app = "sales", action = "open-app" } })).EnsureSuccessStatusCode();

        var page = await browser.PageAsync(390, 844);
        await Pages.OpenSignedInAsync(page, server.Address, keys.Read);
        await Assertions.Expect(page.Locator("[data-testid=waste-summary]")).ToHaveAttributeAsync("data-value", "0");
        await Assertions.Expect(page.Locator("[data-testid=waste-apps]")).ToContainTextAsync("No app was charged by a reload while idle.");
        await Assertions.Expect(page.Locator("[data-testid=waste-users]")).ToContainTextAsync("No user was charged by a reload while idle.");
        Assert.Equal(0, await page.Locator("#waste-hours rect").CountAsync());
        await page.Context.CloseAsync();
    }
}
