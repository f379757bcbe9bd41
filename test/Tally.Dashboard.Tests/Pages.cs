using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Tally.Dashboard.Tests;

/// <summary>What the dashboard tests do to a page again and again: sign in, wait for data, read colours.</summary>
internal static partial class Pages
{
    /// <summary>Signs in through the form, as a person does.</summary>
    public static async Task SignInAsync(IPage page, Uri address, string key)
    {
        await page.GotoAsync(address.ToString());
        await page.GetByLabel("API key").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    /// <summary>Opens the sign-in screen and waits until the page has put the focus in the key field (its probe said "signed out").</summary>
    public static async Task OpenSignInAsync(IPage page, Uri address)
    {
        await page.GotoAsync(address.ToString());
        await Assertions.Expect(page.Locator("#key")).ToBeFocusedAsync();
    }

    /// <summary>
    /// Signs the page's browser context in through the API (the session cookie lands in the context's jar), then loads
    /// the page: a returning user's first load, with no click or key press that would hide layout shifts from CLS.
    /// </summary>
    public static async Task OpenSignedInAsync(IPage page, Uri address, string key)
    {
        var answer = await page.Context.APIRequest.PostAsync(new Uri(address, "/dashboard/session").ToString(),
            new APIRequestContextOptions { DataObject = new { key } });
        Assert.True(answer.Ok, $"sign-in answered {answer.Status}");
        await page.GotoAsync(address.ToString());
        await DataArrivedAsync(page);
    }

    /// <summary>The first poll has been drawn: render() sets every panel in one task, the consumed figure among them.</summary>
    public static async Task DataArrivedAsync(IPage page) =>
        await page.WaitForFunctionAsync("() => !!document.getElementById('consumed')?.dataset.value", null,
            new PageWaitForFunctionOptions { PollingInterval = 50, Timeout = 30_000 });

    /// <summary>Two animation frames: what the last change did to the layout has been laid out and reported.</summary>
    public static async Task FramesAsync(IPage page) =>
        await page.EvaluateAsync("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");

    public static async Task ChoosePeriodAsync(IPage page, string period)
    {
        await page.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync(period);
        await page.WaitForFunctionAsync("p => document.getElementById('daily')?.dataset.period === p", period,
            new PageWaitForFunctionOptions { PollingInterval = 50 });
    }

    /// <summary>WCAG 2.1 contrast ratio of two sRGB colours, from their relative luminance.</summary>
    public static double Contrast((double R, double G, double B) a, (double R, double G, double B) b)
    {
        var (la, lb) = (Luminance(a), Luminance(b));
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }

    private static double Luminance((double R, double G, double B) c) => (0.2126 * Linear(c.R)) + (0.7152 * Linear(c.G)) + (0.0722 * Linear(c.B));

    private static double Linear(double channel)
    {
        var s = channel / 255;
        return s <= 0.04045 ? s / 12.92 : Math.Pow((s + 0.055) / 1.055, 2.4);
    }

    /// <summary>A computed colour, <c>rgb(r, g, b)</c> or <c>rgba(r, g, b, a)</c>, as its three channels.</summary>
    public static (double R, double G, double B) Rgb(string css)
    {
        var m = RgbPattern().Match(css);
        Assert.True(m.Success, $"'{css}' is not an rgb() colour");
        return (Channel(m, 1), Channel(m, 2), Channel(m, 3));
    }

    private static double Channel(Match m, int i) => double.Parse(m.Groups[i].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)")]
    private static partial Regex RgbPattern();
}
