using System.Net;
using Tally.Metering;

namespace Tally.Server.Tests.Monitoring;

/// <summary>A month the license does not cover has no pool: the summary claims no included minutes, no limit and no run-rate for it.</summary>
public sealed class LicenseCoverageTests
{
    [Theory]
    [InlineData("2026-01", "outside")]   // before ValidFrom (8 February 2026)
    [InlineData("2026-02", "covered")]   // the license starts inside the month: it governs the rest of it
    [InlineData("2026-03", "covered")]
    [InlineData("2027-04", "outside")]   // after ValidTo (10 March 2027)
    public async Task Summary_OfAMonth_SaysWhetherTheLicenseCoversIt_AndClaimsThePoolOnlyThen(string period, string coverage)
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 2, packMinutes: 1000, OverageAllowance.Capped(500)));
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync($"/api/v1/usage/summary?period={period}")).Json();
        Assert.Equal(coverage, summary.GetProperty("licenseCoverage").GetString());
        var covered = coverage == "covered";
        Assert.Equal(covered, summary.TryGetProperty("includedMinutes", out _));
        Assert.Equal(covered, summary.TryGetProperty("limitMinutes", out _));
        Assert.Equal(covered, summary.TryGetProperty("remainingMinutes", out _));
        Assert.Equal(covered, summary.TryGetProperty("runRate", out _));
        Assert.False(summary.GetProperty("unlimited").GetBoolean());
        // Without a pool nothing can run out.
        Assert.Equal(covered ? "not-within-period" : "never", summary.GetProperty("forecast").GetProperty("includedRunOutOutcome").GetString());
    }

    [Fact]
    public async Task Summary_WithoutALicense_CoverageIsNone()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal("none", summary.GetProperty("licenseCoverage").GetString());
        Assert.False(summary.TryGetProperty("includedMinutes", out _));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("EUR", "EUR")]
    [InlineData("chf", "CHF")]
    public async Task SeatAdvice_EchoesTheCurrencyOfThePrices(string? given, string? answered)
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var read = server.Client(acme.Read);
        var advice = await (await read.GetAsync("/api/v1/advice/seats?seatPrice=40&packPrice=300" + (given is null ? "" : "&currency=" + given))).Json();
        Assert.Equal(answered, advice.TryGetProperty("currency", out var c) ? c.GetString() : null);
    }

    [Theory]
    [InlineData("EURO")]
    [InlineData("E1R")]
    [InlineData("")]
    public async Task SeatAdvice_CurrencyNotThreeLetters_Is400NamingIt(string currency)
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var read = server.Client(acme.Read);
        var answer = await read.GetAsync("/api/v1/advice/seats?seatPrice=40&packPrice=300&currency=" + currency);
        await answer.AssertProblemAsync(HttpStatusCode.BadRequest, "currency: three letters", field: "currency");
    }
}
