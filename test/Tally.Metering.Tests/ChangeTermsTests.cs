namespace Tally.Metering.Tests;

/// <summary>A license or plan change mid-period: what happened stays, new units follow the new terms.</summary>
public class ChangeTermsTests
{
    [Fact]
    public void ChangeTerms_LargerPool_KeepsConsumedAndGrantsTheDifference()
    {
        var s = new Scenario(Scenario.Pool(12));
        s.Single(0, "a", null, "x", "open-app");
        s.Single(0, "b", null, "x", "open-app");
        Assert.Equal(DenyReason.PoolExhausted, s.Single(1, "c", null, "x", "open-app").Reason);

        s.Meter.ChangeTerms(Scenario.Pool(18), null);

        Assert.Equal(12, s.Meter.PoolOf(new Period(2026, 3)).ConsumedMinutes);
        Assert.Equal(DecisionKind.Charged, s.Single(2, "c", null, "x", "open-app").Kind);
        Assert.Equal(DenyReason.PoolExhausted, s.Single(2, "d", null, "x", "open-app").Reason);
    }

    [Fact]
    public void ChangeTerms_SmallerPool_RunningUnitsStayCovered()
    {
        var s = new Scenario(Scenario.Pool(60));
        s.Single(0, "a", null, "x", "open-app");
        s.Meter.ChangeTerms(Scenario.Pool(0), null);
        Assert.Equal(DecisionKind.Covered, s.Single(5, "a", null, "x", "select").Kind);
        Assert.Equal(DenyReason.PoolExhausted, s.Single(6, "a", null, "x", "select").Reason);
    }

    [Fact]
    public void ChangeTerms_ConnectionsSurvive()
    {
        var s = new Scenario(Scenario.Pool(60));
        s.Single(0, "a", "laptop", "x", "open-app");
        s.Meter.ChangeTerms(Scenario.Pool(120), null);
        Assert.Equal(DecisionKind.Charged, Assert.Single(s.Reload(10, "x")).Kind);
    }

    [Fact]
    public void ChangeTerms_NewDirectory_ResolvesKnownUsersAgain()
    {
        var s = new Scenario(Scenario.Pool(60));
        s.Single(0, "a", null, "x", "open-app");
        s.Meter.ChangeTerms(Scenario.Pool(60), new Professional(s.UserId("a")));
        var d = s.Single(7, "a", null, "x", "select");
        Assert.Equal(DecisionKind.Free, d.Kind);
        Assert.Equal(6, s.Meter.PoolOf(d.Period).ConsumedMinutes);
        Assert.Equal(Allocation.Professional, s.Meter.TermsOf(s.UserId("a"))?.Allocation);
    }

    [Fact]
    public void ChangeTerms_RenewedValidity_LiftsLicenseExpired()
    {
        var end = Scenario.At(10).UtcTicks;
        var s = new Scenario(new MeterOptions { Validity = new ValidityWindow(Scenario.At(0).UtcTicks, end) });
        Assert.Equal(DenyReason.LicenseExpired, s.Single(10, "a", null, "x", "open-app").Reason);
        s.Meter.ChangeTerms(new MeterOptions { Validity = new ValidityWindow(Scenario.At(0).UtcTicks, Scenario.At(100).UtcTicks) }, null);
        Assert.Equal(DecisionKind.Charged, s.Single(11, "a", null, "x", "open-app").Kind);
    }

    [Fact]
    public void ChangeTerms_NewUnitLength_AppliesToNewUnitsOnly()
    {
        var s = new Scenario();
        var first = s.Single(0, "a", null, "x", "open-app");
        s.Meter.ChangeTerms(new MeterOptions { UnitMinutes = 10 }, null);
        Assert.Equal(DecisionKind.Covered, s.Single(5, "a", null, "x", "select").Kind);
        var second = s.Single(6, "a", null, "x", "select");
        Assert.Equal(Scenario.At(6), first.UnitEnd);
        Assert.Equal(Scenario.At(16), second.UnitEnd);
        Assert.Equal(10, second.Minutes);
    }

    [Fact]
    public void ChangeTerms_InvalidOptions_AreRefused() =>
        Assert.Throws<ArgumentException>(() => new Meter(new MeterOptions()).ChangeTerms(new MeterOptions { UnitMinutes = 0 }, null));

    private sealed class Professional(int user) : IUserDirectory
    {
        public UserTerms Resolve(int id) => id == user ? new(Allocation.Professional) : UserTerms.Capacity;
    }
}
