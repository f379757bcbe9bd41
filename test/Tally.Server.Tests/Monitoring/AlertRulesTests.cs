using Tally.Metering;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Server.Tests.Monitoring;

/// <summary>Each rule's condition, decided from facts alone (AlertRules): no server, no ledger, no clock.</summary>
public sealed class AlertRulesTests
{
    private static readonly Period March = new(2026, 3);
    private static readonly DateTimeOffset MidMarch = new(2026, 3, 16, 0, 0, 0, TimeSpan.Zero);

    private static PeriodFacts Facts(long consumed, long? included = 1000, bool lockedOut = false, params (string User, long Minutes)[] charged)
    {
        var options = new MeterOptions { Pool = included is { } i ? new PoolTerms(i, OverageAllowance.None) : null };
        var source = new MonitorSource(new PeriodUsage(March.ToString(), consumed / 6, consumed, 0, consumed / 6), null, (_, _) => []);
        var figures = UsageMonitor.Compute(source, options, included is { } pool ? MonitoredPool.Always(pool) : null, March, MidMarch);
        return new PeriodFacts(figures, lockedOut, charged);
    }

    private static AlertRuleRecord Rule(string kind, double? value = null) => new("r1", "acme", "rule", kind, value, [], MidMarch);

    [Theory]
    [InlineData(AlertKinds.ThresholdPercent, 80.0, 799, false)]
    [InlineData(AlertKinds.ThresholdPercent, 80.0, 800, true)]
    [InlineData(AlertKinds.ThresholdMinutes, 500.0, 499, false)]
    [InlineData(AlertKinds.ThresholdMinutes, 500.0, 500, true)]
    [InlineData(AlertKinds.OverageStarted, null, 1000, false)]
    [InlineData(AlertKinds.OverageStarted, null, 1006, true)]
    public void Decide_PoolRules_FireAtTheirThresholdExactly(string kind, double? value, long consumed, bool fires)
    {
        var fired = AlertRules.Decide(Rule(kind, value), Facts(consumed));

        Assert.Equal(fires ? 1 : 0, fired.Count);
        Assert.All(fired, f => Assert.Equal("", f.Subject));
    }

    [Fact]
    public void Decide_ThresholdPercent_WithoutPool_NeverFires()
    {
        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.ThresholdPercent, 1), Facts(5000, included: null)));
    }

    [Theory]
    [InlineData(AlertKinds.ThresholdPercent, 50.0)]
    [InlineData(AlertKinds.OverageStarted, null)]
    public void Decide_PoolRules_InAMonthTheLicenseDoesNotCover_NeverFire(string kind, double? value)
    {
        // A license that ended in February: March has no pool, as the summary says (includedMinutes absent).
        var options = new MeterOptions { Pool = new PoolTerms(1000, OverageAllowance.None) };
        var source = new MonitorSource(new PeriodUsage(March.ToString(), 500, 3000, 0, 500), null, (_, _) => []);
        var ended = new MonitoredPool(1000, new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        var figures = UsageMonitor.Compute(source, options, ended, March, MidMarch);

        Assert.Equal(LicenseCoverage.Outside, figures.Coverage);
        Assert.Null(figures.IncludedMinutes);
        Assert.Empty(AlertRules.Decide(Rule(kind, value), new PeriodFacts(figures, false, [])));
        // The same usage in a covered month fires.
        Assert.Single(AlertRules.Decide(Rule(kind, value), Facts(3000)));
    }

    [Fact]
    public void Decide_Lockout_OnlyWhenAnEventWasDeniedPoolExhausted()
    {
        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.Lockout), Facts(1000)));
        var fired = Assert.Single(AlertRules.Decide(Rule(AlertKinds.Lockout), Facts(1000, lockedOut: true)));
        Assert.Contains("2026-04-01 00:00 UTC", fired.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_UserMinutes_OneAlertPerUserAtOrOverTheValue_InNameOrder()
    {
        var fired = AlertRules.Decide(Rule(AlertKinds.UserMinutes, 120), Facts(300, charged: [("zoe", 120), ("ann", 126), ("bob", 114)]));

        Assert.Equal(["ann", "zoe"], fired.Select(f => f.Subject));
        Assert.Equal("user ann passed 120 minutes", fired[0].Title);
    }

    [Theory]
    [InlineData(AlertKinds.IdleReloadMinutes, 120.0, 114L, 1000L, false)]
    [InlineData(AlertKinds.IdleReloadMinutes, 120.0, 120L, 1000L, true)]
    [InlineData(AlertKinds.IdleReloadMinutes, 120.0, 120L, null, true)]     // minutes need no pool
    [InlineData(AlertKinds.IdleReloadPercent, 5.0, 48L, 1000L, false)]
    [InlineData(AlertKinds.IdleReloadPercent, 5.0, 50L, 1000L, true)]
    [InlineData(AlertKinds.IdleReloadPercent, 5.0, 500L, null, false)]     // a share of nothing never fires
    public void Decide_IdleReloadRules_FireAtTheirThresholdExactly(string kind, double value, long idle, long? included, bool fires)
    {
        var facts = Facts(600, included) with { IdleReloadMinutes = idle };
        var fired = AlertRules.Decide(Rule(kind, value), facts);

        Assert.Equal(fires ? 1 : 0, fired.Count);
        Assert.All(fired, f => Assert.Contains($"{idle:N0} minutes", f.Text, StringComparison.Ordinal));
        Assert.All(fired, f => Assert.Contains("/api/v1/usage/waste", f.Text, StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_IdleReloadRules_WithoutTheFigure_NeverFire()
    {
        // The evaluator reads idle-reload minutes only for a tenant with such a rule: absent facts are not zero minutes.
        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.IdleReloadMinutes, 1), Facts(600)));
        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.IdleReloadPercent, 1), Facts(600)));
    }

    [Fact]
    public void Decide_AboveRunRate_FiresOnlyPastTheMargin()
    {
        // Mid-March (15 of 31 days): about 484 of 1,000 minutes expected by now.
        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.AboveRunRate, 50), Facts(600)));
        var fired = Assert.Single(AlertRules.Decide(Rule(AlertKinds.AboveRunRate, 20), Facts(600)));
        Assert.StartsWith("consumption 24", fired.Title, StringComparison.Ordinal);
    }

    [Fact]
    public void DecideSource_FiresAtTheRulesHours_OncePerOutage_AndAtOnceForAStoppedSource()
    {
        var rule = Rule(AlertKinds.SourceFailing, 24);
        var added = MidMarch.AddDays(-5);
        var lastGood = MidMarch.AddHours(-30);
        SourceFacts Facts(DateTimeOffset? success, bool stopped = false) => new("cloud", stopped, added, success, "Unreachable", "no answer");

        Assert.Empty(AlertRules.DecideSource(rule, Facts(MidMarch.AddHours(-23.9)), MidMarch));
        var stale = Assert.Single(AlertRules.DecideSource(rule, Facts(lastGood), MidMarch));
        Assert.Equal("cloud since 2026-03-14T18:00:00Z", stale.Subject);
        Assert.Contains("30 hours", stale.Title, StringComparison.Ordinal);
        // The same outage later is the same subject (claimed once); after a success a new outage is another subject.
        Assert.Equal(stale.Subject, Assert.Single(AlertRules.DecideSource(rule, Facts(lastGood), MidMarch.AddHours(10))).Subject);
        Assert.NotEqual(stale.Subject, Assert.Single(AlertRules.DecideSource(rule, Facts(MidMarch), MidMarch.AddHours(25))).Subject);
        // Never read at all: counted from when it was added.
        Assert.Equal("cloud since 2026-03-11T00:00:00Z", Assert.Single(AlertRules.DecideSource(rule, Facts(null), MidMarch)).Subject);
        // A refused credential stops the source: at once, whatever the hours.
        var stopped = Assert.Single(AlertRules.DecideSource(rule, Facts(MidMarch.AddMinutes(-5), stopped: true), MidMarch));
        Assert.Equal(("cloud since 2026-03-15T23:55:00Z (stopped)", "source cloud stopped"), (stopped.Subject, stopped.Title));
        Assert.Empty(AlertRules.DecideSource(Rule(AlertKinds.Lockout), Facts(lastGood), MidMarch));
    }

    [Fact]
    public void Decide_ForecastRunOut_PessimisticBound_FiresOnTheBandsEarliest_WhereTheExpectedDoesNot()
    {
        // The point forecast runs out after the period; the 10th percentile run-out (usage running high) is inside it.
        var facts = Facts(400);
        var earliest = new DateTimeOffset(2026, 3, 27, 9, 30, 0, TimeSpan.Zero);
        var forecast = facts.Figures.Forecast with { IncludedRunOut = RunOut.NotWithinPeriod };
        forecast = forecast with
        {
            Band = new ForecastBand(900, 1300, new RunOut(RunOutOutcome.Projected, earliest), RunOut.NotWithinPeriod, RunOut.Never, RunOut.Never),
        };
        facts = facts with { Figures = facts.Figures with { Forecast = forecast } };

        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.ForecastRunOut), facts));
        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.ForecastRunOut) with { Bound = AlertKinds.BoundExpected }, facts));
        var fired = Assert.Single(AlertRules.Decide(Rule(AlertKinds.ForecastRunOut) with { Bound = AlertKinds.BoundPessimistic }, facts));
        Assert.Equal("", fired.Subject);
        Assert.Contains("2026-03-27 09:30 UTC", fired.Title, StringComparison.Ordinal);
        Assert.Contains("At the 10th percentile", fired.Text, StringComparison.Ordinal);
        Assert.Contains("between 2026-03-27 09:30 and after the period ends", fired.Text, StringComparison.Ordinal);
        Assert.Contains("10–90 %: 900–1,300", fired.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_ForecastRunOut_PessimisticBound_SilentWhenEvenTheEarliestIsAfterThePeriod()
    {
        var facts = Facts(10);
        Assert.NotEqual(RunOutOutcome.Projected, facts.Figures.Forecast.Band.IncludedEarliest.Outcome);
        Assert.Empty(AlertRules.Decide(Rule(AlertKinds.ForecastRunOut) with { Bound = AlertKinds.BoundPessimistic }, facts));
    }
}
