using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tally.Server.Demo;
using Tally.Storage;

namespace Tally.Dashboard.Tests;

/// <summary>Issue 12, "the first hour": what a new user of the demo meets, from the sign-in screen to signing out.</summary>
[Collection(BrowserCollection.Name)]
public sealed class JourneyTests(Browser browser, DemoServer demo)
{
    private static readonly string[] HeaderControls = ["#period", "#live", "#signout"];

    private static async Task AssertHeaderHiddenAsync(IPage page)
    {
        foreach (var control in HeaderControls)
        {
            await Assertions.Expect(page.Locator(control)).ToBeHiddenAsync();
        }
    }

    [Fact]
    public async Task SignedOut_HeaderControlsHidden_SignOutLeavesNothingStale_AndSaysSoWithoutAnError()
    {
        var page = await browser.PageAsync(1280, 900);
        await page.GotoAsync(demo.Address.ToString());
        await Assertions.Expect(page.Locator("#signin")).ToBeVisibleAsync();
        await AssertHeaderHiddenAsync(page);

        await page.GetByLabel("API key").FillAsync(demo.ReadKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Pages.DataArrivedAsync(page);
        foreach (var control in HeaderControls)
        {
            await Assertions.Expect(page.Locator(control)).ToBeVisibleAsync();
        }
        await Assertions.Expect(page.Locator("#live")).ToContainTextAsync("Live");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.Locator("#signin")).ToBeVisibleAsync();
        await AssertHeaderHiddenAsync(page);
        Assert.Equal("", (await page.Locator("#live").TextContentAsync())!.Trim());
        Assert.Equal("", (await page.Locator("#tenant").TextContentAsync())!.Trim());
        Assert.Equal("", await page.Locator("#consumed").GetAttributeAsync("data-value"));

        // "Signed out." is news, not an error: a status in the ink colour, while the error line stays empty.
        var note = page.GetByText("Signed out.");
        await Assertions.Expect(note).ToBeVisibleAsync();
        Assert.Equal("status", await note.GetAttributeAsync("role"));
        Assert.Equal("", (await page.Locator("#signin-error").TextContentAsync())!.Trim());
        var (noteColour, errorColour) = (await note.EvaluateAsync<string>("e => getComputedStyle(e).color"),
            await page.Locator("#signin-error").EvaluateAsync<string>("e => getComputedStyle(e).color"));
        Assert.NotEqual(errorColour, noteColour);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Journey_LoadSignInNavigateSignOut_LogsNoConsoleErrorAndNoPageError()
    {
        var page = await browser.PageAsync(1280, 900);
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                problems.Add($"console {message.Type}: {message.Text} ({message.Location})");
            }
        };
        page.PageError += (_, error) => problems.Add($"page error: {error}");

        await Pages.OpenSignInAsync(page, demo.Address);
        await page.GetByLabel("API key").FillAsync(demo.ReadKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Pages.DataArrivedAsync(page);
        await Pages.ChoosePeriodAsync(page, "2026-02");
        await page.Locator("#users-pager").GetByRole(AriaRole.Button, new() { Name = "Next" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users-pager")).ToContainTextAsync("Page 2 of");
        await page.Locator("#users-table thead button[data-key=user]").ClickAsync();
        await Assertions.Expect(page.Locator("#users-table thead th").First).ToHaveAttributeAsync("aria-sort", "ascending");
        await page.ReloadAsync();
        await Pages.DataArrivedAsync(page);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Signed out.")).ToBeVisibleAsync();
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#key")).ToBeFocusedAsync();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task MonthBeforeTheLicense_SaysItIsNotCovered_WithWholeUnitTicks_AndADayAxisEndingOnItsLastDay()
    {
        using var api = demo.Server.Client(demo.ReadKey);
        var november = await api.GetJsonAsync("/api/v1/usage/summary?period=2025-11");
        Assert.Equal("outside", november.GetProperty("licenseCoverage").GetString());
        Assert.False(november.TryGetProperty("includedMinutes", out _), "the API claims no pool for a month the license did not cover");
        Assert.False(november.TryGetProperty("runRate", out _));

        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        await Pages.ChoosePeriodAsync(page, "2025-11");
        Assert.Equal("", await page.Locator("#included").GetAttributeAsync("data-value"));
        await Assertions.Expect(page.Locator("#included-sub")).ToContainTextAsync("not covered");
        await Assertions.Expect(page.Locator("#runrate")).Not.ToContainTextAsync("Behind");
        await Assertions.Expect(page.Locator("#runrate")).Not.ToContainTextAsync("Ahead");
        await Assertions.Expect(page.Locator("#empty")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#empty")).Not.ToContainTextAsync("install");
        await Assertions.Expect(page.Locator("#empty")).ToContainTextAsync("1 Feb 2026");
        Assert.DoesNotContain("Behind", await page.Locator("main").InnerTextAsync());

        // An empty month's count axis: whole units from 0, each once.
        var ticks = await page.Locator("#daily text[data-axis=count]").AllTextContentsAsync();
        Assert.Equal("0", ticks[0]);
        Assert.Equal(ticks.Count, ticks.Distinct().Count());
        Assert.All(ticks, t => Assert.True(int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out _), $"'{t}' is a whole number"));

        // November has 30 days, February 2026 has 28: both axes end there.
        Assert.Equal("30", (await page.Locator("#daily text[data-axis=day]").AllTextContentsAsync())[^1]);
        Assert.Equal("30", (await page.Locator("#chart text[data-axis=day]").AllTextContentsAsync())[^1]);
        Assert.Equal(30, await page.Locator("#daily [data-day]").CountAsync());
        await Pages.ChoosePeriodAsync(page, "2026-02");
        Assert.Equal("28", (await page.Locator("#daily text[data-axis=day]").AllTextContentsAsync())[^1]);
        Assert.Equal("28", (await page.Locator("#chart text[data-axis=day]").AllTextContentsAsync())[^1]);
        Assert.Equal(28, await page.Locator("#daily [data-day]").CountAsync());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task SeatAdvisor_ShowsItsSavingsInTheCurrencyOfThePrices()
    {
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        await Assertions.Expect(page.Locator("#advisor")).ToContainTextAsync("USD");
        await page.GetByLabel("Currency").FillAsync("eur");
        await page.GetByLabel("Currency").PressAsync("Tab");
        await Assertions.Expect(page.Locator("#advisor")).ToContainTextAsync("Possible saving: EUR ");
        await Assertions.Expect(page.Locator("#advisor")).Not.ToContainTextAsync("USD");
        // Every amount the advisor names carries the currency the API answered with.
        using var api = demo.Server.Client(demo.ReadKey);
        var advice = await api.GetJsonAsync("/api/v1/advice/seats?seatPrice=40&packPrice=300&currency=EUR");
        Assert.Equal("EUR", advice.GetProperty("currency").GetString());
        var text = await page.Locator("#advisor").InnerTextAsync();
        var amounts = Regex.Matches(text, @"[\d,]+\.\d\d\b").Count;
        Assert.True(amounts > 1, text);
        Assert.Equal(amounts, Regex.Matches(text, @"EUR [\d,]+\.\d\d\b").Count);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Demo_HasAlertRules_AndItsHistoryShowsTheFiringsItsUsageCaused()
    {
        var rules = demo.Server.Services.GetRequiredService<ILedgerStore>().AlertRules(DemoSetup.TenantId);
        Assert.Contains(rules, r => r is { Kind: "threshold-percent", Value: 80 });
        Assert.Contains(rules, r => r is { Kind: "threshold-percent", Value: 100 });
        Assert.Contains(rules, r => r.Kind == "above-run-rate");
        using var api = demo.Server.Client(demo.ReadKey);
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        var alerts = page.Locator("[data-testid=alert-list] li");
        // Each threshold the demo's usage crossed in a month fired once for that month, and only those.
        var crossed = 0;
        foreach (var period in new[] { "2026-02", "2026-03" })
        {
            var summary = await api.GetJsonAsync($"/api/v1/usage/summary?period={period}");
            var used = 100.0 * summary.GetProperty("consumedMinutes").GetInt64() / summary.GetProperty("includedMinutes").GetInt64();
            foreach (var threshold in new[] { 80, 100 })
            {
                var expected = used >= threshold ? 1 : 0;
                crossed += expected;
                await Assertions.Expect(alerts.Filter(new() { HasText = $"{threshold} % of the included minutes used ({period})" })).ToHaveCountAsync(expected);
            }
        }
        Assert.True(crossed >= 2, "the demo's usage crosses at least one threshold in each of its months or both in one");
        await Assertions.Expect(alerts.First).ToContainTextAsync("recorded");
        var history = await api.GetJsonAsync("/api/v1/alerts/history");
        Assert.All(history.GetProperty("alerts").EnumerateArray(), a => Assert.Equal("no-channel", a.GetProperty("status").GetString()));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task EveryColumnOfEveryTable_SortsBothWays()
    {
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        foreach (var table in new[] { "users", "apps" })
        {
            var headers = page.Locator($"#{table}-table thead th");
            var columns = await headers.CountAsync();
            for (var column = 0; column < columns; column++)
            {
                var header = headers.Nth(column);
                Assert.Equal(1, await header.Locator("button").CountAsync());
                for (var click = 0; click < 2; click++)
                {
                    var before = await header.GetAttributeAsync("aria-sort");
                    await header.Locator("button").ClickAsync();
                    await page.WaitForFunctionAsync("([th, before]) => { const s = th.getAttribute('aria-sort'); return s !== before && s !== 'none'; }",
                        new object[] { await header.ElementHandleAsync(), before! }, new PageWaitForFunctionOptions { PollingInterval = 50 });
                    var ascending = await header.GetAttributeAsync("aria-sort") == "ascending";
                    var values = await page.Locator($"#{table}-table tbody tr td:nth-child({column + 1})").EvaluateAllAsync<string[]>("tds => tds.map(td => td.dataset.value)");
                    Assert.True(values.Length > 1, $"{table} column {column} has rows");
                    for (var i = 1; i < values.Length; i++)
                    {
                        var order = Compare(values[i - 1], values[i]);
                        Assert.True(ascending ? order <= 0 : order >= 0,
                            $"{table} column {column} {(ascending ? "ascending" : "descending")}: '{values[i - 1]}' before '{values[i]}' ({string.Join(", ", values)})");
                    }
                }
            }
        }
        await page.Context.CloseAsync();
    }

    /// <summary>How the API orders a column: missing values first, numbers as numbers, text by code point.</summary>
    private static int Compare(string a, string b) =>
        (a.Length == 0, b.Length == 0) switch
        {
            (true, true) => 0,
            (true, false) => -1,
            (false, true) => 1,
            _ => double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var y)
                ? x.CompareTo(y)
                : string.CompareOrdinal(a, b),
        };
}
