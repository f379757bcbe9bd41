using System.Text.Json;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Tally.Dashboard.Tests;

/// <summary>
/// The accessibility promise of docs/dashboard.md, judged by axe-core (WCAG 2.1 A and AA rules) and by the keyboard:
/// no serious or critical violation in any state, focus lands somewhere useful, and the focus ring can be seen.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class AccessibilityTests(Browser browser, DemoServer demo)
{
    private static readonly AxeRunOptions Wcag21 = new()
    {
        RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    };

    /// <summary>Runs axe on the page as it is now; fails on any serious or critical violation, naming rule, elements and help.</summary>
    private static async Task AssertNoSeriousViolationsAsync(IPage page, string state)
    {
        var result = await page.RunAxe(Wcag21);
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, $"axe, {state}:\n" + string.Join("\n", serious.Select(v =>
            $"  {v.Id} ({v.Impact}) on {string.Join(" | ", v.Nodes.Select(n => n.Target?.ToString()))}: {v.Help} <{v.HelpUrl}>")));
    }

    [Fact]
    public async Task Axe_SignedOut_SignedIn_AndEveryInteractivePartOpened_NoSeriousViolation()
    {
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignInAsync(page, demo.Address);
        await AssertNoSeriousViolationsAsync(page, "signed out");
        await page.GetByLabel("API key").FillAsync("tally_000000000000_not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.Locator("#signin-error")).ToContainTextAsync("refused");
        await AssertNoSeriousViolationsAsync(page, "a refused key");

        await page.GetByLabel("API key").FillAsync(demo.ReadKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Pages.DataArrivedAsync(page);
        await AssertNoSeriousViolationsAsync(page, "signed in at 1280 px");

        await page.Locator("#users-pager").GetByRole(AriaRole.Button, new() { Name = "Next" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users-pager")).ToContainTextAsync("Page 2 of");
        await page.Locator("#apps-table thead button[data-key=app]").ClickAsync();
        await Assertions.Expect(page.Locator("#apps-table thead th").First).ToHaveAttributeAsync("aria-sort", "ascending");
        await page.GetByLabel("Search users").FillAsync("nobody-by-this-name");
        await Assertions.Expect(page.Locator("#users-table tbody")).ToContainTextAsync("No match.");
        await page.GetByLabel("Currency").FillAsync("EUR");
        await page.GetByLabel("Analyzer seat per month").FillAsync("55");
        await page.GetByLabel("Analyzer seat per month").PressAsync("Tab");
        await Assertions.Expect(page.Locator("#advisor")).ToContainTextAsync("EUR");
        await AssertNoSeriousViolationsAsync(page, "paged, sorted, searched, advisor prices changed");

        await Pages.ChoosePeriodAsync(page, "2025-11");
        await Assertions.Expect(page.Locator("#empty")).ToBeVisibleAsync();
        await AssertNoSeriousViolationsAsync(page, "a month before the license (empty state)");

        await page.SetViewportSizeAsync(390, 844);
        await Pages.ChoosePeriodAsync(page, "2026-03");
        await Assertions.Expect(page.Locator("[data-testid=denied-table]")).ToBeVisibleAsync();
        await AssertNoSeriousViolationsAsync(page, "signed in at 390 px");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task SignInByKeyboard_MovesFocusToTheDashboardsHeading()
    {
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignInAsync(page, demo.Address);
        await page.Keyboard.TypeAsync(demo.ReadKey);
        await page.Keyboard.PressAsync("Enter");
        await Pages.DataArrivedAsync(page);
        Assert.Equal("dashboard-title", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        Assert.Equal("H1", await page.EvaluateAsync<string>("() => document.activeElement.tagName"));
        // From there the keyboard goes on into the dashboard, never back to the top of the page.
        await page.Keyboard.PressAsync("Tab");
        Assert.True(await page.EvaluateAsync<bool>("() => document.getElementById('main').contains(document.activeElement)"),
            "Tab after sign-in moves to a control of the dashboard");
        await page.Context.CloseAsync();
    }

    /// <summary>Where the ring is drawn and what is behind it: the focused element's outline, and the first opaque background up its ancestors.</summary>
    private const string RingOf = """
        () => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          let bg = null;
          for (let n = el.parentElement; n && !bg; n = n.parentElement) {
            const c = getComputedStyle(n).backgroundColor;
            if (c && c !== "transparent" && !/rgba\(.*,\s*0\)$/.test(c)) bg = c;
          }
          return { tag: el.tagName, text: el.textContent.trim().slice(0, 20), outline: style.outlineColor, outlineStyle: style.outlineStyle,
            width: parseFloat(style.outlineWidth), background: bg || getComputedStyle(document.documentElement).backgroundColor };
        }
        """;

    private static async Task AssertRingContrastAsync(IPage page, string where)
    {
        var ring = await page.EvaluateAsync<JsonElement>(RingOf);
        var description = $"{where}: {ring.GetProperty("tag")} '{ring.GetProperty("text")}', outline {ring.GetProperty("outline")} on {ring.GetProperty("background")}";
        Assert.NotEqual("none", ring.GetProperty("outlineStyle").GetString());
        Assert.True(ring.GetProperty("width").GetDouble() >= 2, $"{description}: the ring is at least 2 px wide");
        var contrast = Pages.Contrast(Pages.Rgb(ring.GetProperty("outline").GetString()!), Pages.Rgb(ring.GetProperty("background").GetString()!));
        Assert.True(contrast >= 3, $"{description}: contrast {contrast:0.00}:1, needs 3:1");
    }

    [Fact]
    public async Task FocusRing_HasThreeToOneContrast_OnTheSignInPanel_APanel_AndTheHeader()
    {
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignInAsync(page, demo.Address);
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page.Locator("#signin-button")).ToBeFocusedAsync();
        await AssertRingContrastAsync(page, "sign-in panel");

        await page.GetByLabel("API key").FillAsync(demo.ReadKey);
        await page.Keyboard.PressAsync("Enter");
        await Pages.DataArrivedAsync(page);
        await page.GetByLabel("Search users").FocusAsync();
        // Tab on until a sort button of the users table has the focus (the table's scroll region comes first).
        for (var i = 0; i < 4 && !await page.EvaluateAsync<bool>("() => document.activeElement.matches('#users-table th button')"); i++)
        {
            await page.Keyboard.PressAsync("Tab");
        }
        await Assertions.Expect(page.Locator("#users-table th button").First).ToBeFocusedAsync();
        await AssertRingContrastAsync(page, "a panel");

        await page.GetByLabel("Period", new() { Exact = true }).FocusAsync();
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page.Locator("#signout")).ToBeFocusedAsync();
        await AssertRingContrastAsync(page, "the header");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task At390px_TablesThatScrollSideways_AreLabelledFocusableRegions_WithAVisibleHint()
    {
        var page = await browser.PageAsync(390, 844);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        await Pages.FramesAsync(page);
        var regions = await page.EvaluateAsync<JsonElement>("""
            () => [...document.querySelectorAll("table")].map((t) => {
              let box = t.parentElement;
              while (box && box !== document.body && box.scrollWidth <= box.clientWidth) box = box.parentElement;
              const scrolls = box !== document.body && box !== null;
              const hint = scrolls ? box.parentElement.querySelector(".scroll-hint") : null;
              return { table: t.id || t.dataset.testid, scrolls, tabindex: scrolls ? box.getAttribute("tabindex") : null,
                role: scrolls ? box.getAttribute("role") : null, label: scrolls ? box.getAttribute("aria-label") : null,
                hint: !!hint && hint.checkVisibility({ visibilityProperty: true }) && hint.textContent.trim().length > 0 };
            })
            """);
        var scrolling = regions.EnumerateArray().Where(r => r.GetProperty("scrolls").GetBoolean()).ToList();
        Assert.True(scrolling.Count >= 3, $"the users, apps and denied tables are wider than a phone: {regions}");
        foreach (var r in scrolling)
        {
            Assert.Equal("0", r.GetProperty("tabindex").GetString());
            Assert.Equal("region", r.GetProperty("role").GetString());
            Assert.False(string.IsNullOrWhiteSpace(r.GetProperty("label").GetString()), $"{r}");
            Assert.True(r.GetProperty("hint").GetBoolean(), $"a visible hint says the table scrolls: {r}");
        }
        // The region takes the keyboard: focused, the arrow keys scroll it.
        var users = page.Locator(".scroll:has(#users-table)");
        await users.FocusAsync();
        await page.Keyboard.PressAsync("ArrowRight");
        await page.WaitForFunctionAsync("() => document.querySelector('.scroll:has(#users-table)').scrollLeft > 0");
        await page.Context.CloseAsync();
    }
}
