using System.Globalization;
using Microsoft.Playwright;

namespace Tally.Dashboard.Tests;

/// <summary>The page draws the server's series: the curve from the hourly timeline, the denials from the ledger's reasons.</summary>
[Collection(BrowserCollection.Name)]
public sealed class SeriesTests(Browser browser, DemoServer demo)
{
    [Fact]
    public async Task CumulativeCurve_AddsUpTheTimeline_ToTheConsumedMinutes()
    {
        using var api = demo.Server.Client(demo.ReadKey);
        var summary = await api.GetJsonAsync("/api/v1/usage/summary");
        var hourly = await api.GetJsonAsync("/api/v1/usage/timeline?granularity=hour");
        var timelineMinutes = hourly.GetProperty("buckets").EnumerateArray().Sum(b => b.GetProperty("minutes").GetInt64());
        Assert.Equal(summary.GetProperty("consumedMinutes").GetInt64(), timelineMinutes);

        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        await Assertions.Expect(page.Locator("#chart path[data-series=consumed]")).ToHaveAttributeAsync("data-total", timelineMinutes.ToString());
        // No unit page is read for the chart: the consumption API is asked only for the units running now.
        var unitReads = await page.EvaluateAsync<string[]>(
            "() => performance.getEntriesByType('resource').map(e => decodeURIComponent(e.name)).filter(n => n.includes('/licenses/consumption'))");
        Assert.All(unitReads, n => Assert.Contains("endTime gt", n));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task DeniedPanel_ShowsTheReasonsTheLedgerRecorded()
    {
        using var api = demo.Server.Client(demo.ReadKey);
        var denials = await api.GetJsonAsync("/api/v1/usage/denials?limit=10");
        var users = denials.GetProperty("users").EnumerateArray().ToList();
        Assert.NotEmpty(users);
        // The demo's u00007 has a 120-minute cap, so its lockout is among the recorded reasons.
        Assert.Contains(users, u => u.GetProperty("reasons").TryGetProperty("user-cap-reached", out _));

        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        var rows = page.Locator("[data-testid=denied-table] tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(users.Count);
        for (var i = 0; i < users.Count; i++)
        {
            var row = rows.Nth(i);
            Assert.Equal(users[i].GetProperty("user").GetString(), await row.Locator("td").First.TextContentAsync());
            Assert.Equal(users[i].GetProperty("deniedEvents").GetInt64().ToString(), await row.Locator("td.num").GetAttributeAsync("data-value"));
            var reasons = await row.Locator("td[data-key=reasons]").TextContentAsync();
            foreach (var reason in users[i].GetProperty("reasons").EnumerateObject())
            {
                Assert.Contains($"× {reason.Value.GetInt64().ToString("N0", CultureInfo.InvariantCulture)}", reasons);
            }
            Assert.Equal(users[i].GetProperty("reasons").EnumerateObject().Count(), reasons!.Split(", ").Length);
        }
        Assert.Contains("lockout: cap reached", await page.Locator("[data-testid=denied-table]").TextContentAsync());
        Assert.DoesNotContain("Likely", await page.Locator("#denied-list").TextContentAsync());
        await page.Context.CloseAsync();
    }
}
