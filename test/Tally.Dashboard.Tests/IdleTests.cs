using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Tally.Dashboard.Tests;

/// <summary>What an idle signed-in dashboard costs, measured in Chromium, and that an idle page still shows a new unit at once.</summary>
[Collection(BrowserCollection.Name)]
public sealed class IdleTests(Browser browser, DemoServer demo, ITestOutputHelper output)
{
    /// <summary>How long the idle page is watched: the measurement's window (real time), not a synchronisation.</summary>
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(30);

    private sealed record Seen(string Url, int Status, long BodyBytes, long HeaderBytes);

    [Fact]
    public async Task IdleSignedInDashboard_TransfersNoBody_AndFewRequests()
    {
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, demo.Address, demo.ReadKey);
        // The first load is over once the page has asked for nothing new for a poll: its last answer is drawn.
        await page.WaitForFunctionAsync("() => document.getElementById('live')?.textContent.startsWith('Live')");
        var seen = new List<Task<Seen>>();
        void OnResponse(object? _, IResponse response) => seen.Add(SizeAsync(response));
        page.Response += OnResponse;
        var clock = Stopwatch.StartNew();
        // The window is measured, not waited for as a fact: the page polls on its own meanwhile.
        await page.WaitForTimeoutAsync((float)Window.TotalMilliseconds);
        page.Response -= OnResponse;
        var elapsed = clock.Elapsed;
        var answers = await Task.WhenAll(seen);
        var bodies = answers.Sum(a => a.BodyBytes);
        var total = bodies + answers.Sum(a => a.HeaderBytes);
        var perMinute = answers.Length / elapsed.TotalMinutes;
        var perHour = total / elapsed.TotalHours;
        output.WriteLine($"Idle signed-in dashboard over {elapsed.TotalSeconds:0.0} s: {answers.Length} requests ({perMinute:0} a minute), "
            + $"{bodies} body bytes, {total} bytes with response headers ({perHour / 1_048_576:0.00} MiB an hour); statuses: "
            + string.Join(", ", answers.GroupBy(a => a.Status).Select(g => $"{g.Key} × {g.Count()}")));
        foreach (var group in answers.GroupBy(a => new Uri(a.Url).AbsolutePath))
        {
            output.WriteLine($"  {group.Key}: {group.Count()} ({string.Join(", ", group.Select(a => a.Status).Distinct())})");
        }
        Assert.NotEmpty(answers);
        Assert.All(answers, a => Assert.Equal(304, a.Status));
        Assert.Equal(0, bodies);
        Assert.True(perMinute <= 30, $"{perMinute:0} requests a minute while idle");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task IdlePoll_Is304_AndANewEvent_ShowsAtTheNextPoll()
    {
        await using var server = await DashboardServer.StartAsync();
        var keys = await server.LicensedTenantAsync("acme");
        var page = await browser.PageAsync(1280, 900);
        await Pages.OpenSignedInAsync(page, server.Address, keys.Read);
        // An idle poll: the ledger's version is unchanged, so the answer is a 304 without a body.
        var idle = await page.WaitForResponseAsync(r => r.Url.Contains("/api/v1/usage/version") && r.Status == 304);
        Assert.Equal(0, (await idle.Request.SizesAsync()).ResponseBodySize);

        var polls = 0;
        page.Request += (_, request) =>
        {
            if (request.Url.Contains("/api/v1/usage/version"))
            {
                Interlocked.Increment(ref polls);
            }
        };
        using var ingest = server.Client(keys.Ingest);
        (await ingest.PostAsJsonAsync("/api/v1/events", new[] { new { id = "e1", user = "ann", app = "sales", action = "open-app" } })).EnsureSuccessStatusCode();
        await Assertions.Expect(page.Locator("#consumed")).ToHaveAttributeAsync("data-value", "6", new() { Timeout = 30_000 });
        // The poll that saw the new version drew it: the first one after the event, or the second if one was under way.
        Assert.InRange(Volatile.Read(ref polls), 1, 2);
        await Assertions.Expect(page.Locator("#units")).ToHaveAttributeAsync("data-value", "1");
        Assert.Equal("ann", await page.Locator("#users-table tbody td").First.TextContentAsync());
        await page.Context.CloseAsync();
    }

    private static async Task<Seen> SizeAsync(IResponse response)
    {
        var sizes = await response.Request.SizesAsync();
        return new Seen(response.Url, response.Status, sizes.ResponseBodySize, sizes.ResponseHeadersSize);
    }
}
