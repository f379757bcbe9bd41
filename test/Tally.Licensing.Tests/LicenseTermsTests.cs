using Tally.Metering;

namespace Tally.Licensing.Tests;

public class LicenseTermsTests
{
    [Fact]
    public void ToMeterOptions_Terms_MapsPoolModeUnitZoneAndValidity()
    {
        var terms = TestLicenses.Terms() with { UnitMinutes = 5, PackMinutes = 1200 };

        var options = terms.ToMeterOptions();

        Assert.Equal(CountingMode.App, options.Mode);
        Assert.Equal(5, options.UnitMinutes);
        Assert.Equal(3600, options.Pool!.IncludedMinutes);
        Assert.Equal(4100, options.Pool.LimitMinutes);
        Assert.Equal("Europe/Stockholm", options.TimeZone.Id);
        Assert.Equal(new ValidityWindow(TestLicenses.From.UtcTicks, TestLicenses.To.UtcTicks), options.Validity);
        Assert.Null(options.Validate());
    }

    [Fact]
    public void ToMeterOptions_UnlimitedOverage_NoLimit() =>
        Assert.Equal(long.MaxValue, (TestLicenses.Terms() with { Overage = OverageAllowance.Unlimited }).ToMeterOptions().Pool!.LimitMinutes);

    [Fact]
    public void ToMeterOptions_LicenseWindow_MeterDeniesLicenseExpiredAtValidTo()
    {
        var meter = new Meter(TestLicenses.Terms().ToMeterOptions());

        var before = meter.Apply(MeterEvent.At(TestLicenses.To.AddMinutes(-1), 1, 0, 1, MeterAction.OpenApp));
        var at = meter.Apply(MeterEvent.At(TestLicenses.To.AddMinutes(5), 1, 0, 2, MeterAction.OpenApp));

        Assert.Equal(DecisionKind.Charged, Assert.Single(before).Kind);
        Assert.Equal(DenyReason.LicenseExpired, Assert.Single(at).Reason);
    }

    [Fact]
    public void ToMeterOptions_StockholmZone_PeriodStartsAtLocalMidnight()
    {
        var meter = new Meter(TestLicenses.Terms().ToMeterOptions());

        // 23:30 UTC on 31 January is 00:30 on 1 February in Stockholm (UTC+1).
        var decision = Assert.Single(meter.Apply(MeterEvent.At(new DateTimeOffset(2026, 1, 31, 23, 30, 0, TimeSpan.Zero), 1, 0, 1, MeterAction.OpenApp)));

        Assert.Equal(new Period(2026, 2), decision.Period);
    }

    [Theory]
    [InlineData("packs")]
    [InlineData("window")]
    [InlineData("unit")]
    [InlineData("zone")]
    [InlineData("seats")]
    [InlineData("customer")]
    [InlineData("packMinutes")]
    public void Validate_BrokenBound_Reports(string broken)
    {
        var terms = TestLicenses.Terms();
        terms = broken switch
        {
            "packs" => terms with { Packs = -1 },
            "window" => terms with { ValidTo = terms.ValidFrom },
            "unit" => terms with { UnitMinutes = 0 },
            "zone" => terms with { TimeZoneId = "Nowhere/Special" },
            "seats" => terms with { AnalyzerSeats = -2 },
            "customer" => terms with { Customer = " " },
            _ => terms with { PackMinutes = 0 },
        };

        Assert.NotNull(terms.Validate());
    }

    [Fact]
    public void Validate_ZeroPacksSeatsOnly_Usable() =>
        Assert.Null(TestLicenses.Terms(packs: 0).Validate());
}
