using System.Text.Json;
using Xunit.Abstractions;

namespace Tally.Dashboard.Tests;

/// <summary>How the dashboard's first load behaves in Chromium: layout shifts and bytes on the wire, measured by the browser.</summary>
[Collection(BrowserCollection.Name)]
public sealed class LoadTests(Browser browser, DemoServer demo, ITestOutputHelper output)
{
    /// <summary>
    /// Collects every layout shift from the first byte on (a buffered observer also gets those before it was made) and
    /// lets the resource timing buffer hold every request of a load. Runs before the page's own script.
    /// </summary>
    private const string Probes = """
        window.tallyShifts = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) {
            if (e.hadRecentInput) continue;
            window.tallyShifts.push({ value: e.value, sources: (e.sources || []).map((s) => s.node ? (s.node.id || s.node.className || s.node.nodeName) : "?").join(",") });
          }
        }).observe({ type: "layout-shift", buffered: true });
        performance.setResourceTimingBufferSize(10000);
        """;

    private sealed record Shift(double Value, string Sources);

    [Theory]
    [InlineData(1280, 900)]
    [InlineData(390, 844)]
    public async Task SignedInLoad_LayoutShiftsAddUpToLessThanATenth(int width, int height)
    {
        var page = await browser.PageAsync(width, height);
        await page.AddInitScriptAsync(Probes);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        await Pages.FramesAsync(page);
        var shifts = (await page.EvaluateAsync<JsonElement>("() => window.tallyShifts")).EnumerateArray()
            .Select(e => new Shift(e.GetProperty("value").GetDouble(), e.GetProperty("sources").GetString()!)).ToList();
        // The sum of every shift is at least the CLS (the worst session window), so this bound is the stricter one.
        var cls = shifts.Sum(s => s.Value);
        output.WriteLine($"CLS at {width} px: {cls:0.0000} ({shifts.Count} shifts: {string.Join("; ", shifts.Select(s => $"{s.Value:0.0000} {s.Sources}"))})");
        Assert.True(cls < 0.1, $"layout shifts add up to {cls:0.000} at {width} px: {string.Join("; ", shifts.Select(s => $"{s.Value:0.000} {s.Sources}"))}");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task SignedInLoad_TravelsCompressed()
    {
        var page = await browser.PageAsync(1280, 900);
        await page.AddInitScriptAsync(Probes);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        var sizes = await page.EvaluateAsync<JsonElement>("""
            () => {
              const all = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
              return { requests: all.length, encoded: all.reduce((a, e) => a + e.encodedBodySize, 0), decoded: all.reduce((a, e) => a + e.decodedBodySize, 0),
                transfer: all.reduce((a, e) => a + e.transferSize, 0) };
            }
            """);
        var (encoded, decoded) = (sizes.GetProperty("encoded").GetDouble(), sizes.GetProperty("decoded").GetDouble());
        output.WriteLine($"First signed-in load: {sizes.GetProperty("requests").GetInt32()} requests, {encoded / 1024:0.0} KiB encoded bodies, "
            + $"{decoded / 1024:0.0} KiB decoded, {sizes.GetProperty("transfer").GetDouble() / 1024:0.0} KiB transferred with headers");
        Assert.True(decoded > 100 * 1024, "the demo's first load reads its month of units");
        Assert.True(encoded * 4 < decoded, $"bodies travel compressed: {encoded:0} of {decoded:0} bytes");
        await page.Context.CloseAsync();
    }
}
