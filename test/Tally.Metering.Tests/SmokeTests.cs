namespace Tally.Metering.Tests;

public class SmokeTests
{
    [Fact]
    public void Apply_FirstEngagement_Charges()
    {
        var meter = new Meter(new MeterOptions());
        var d = meter.Apply(MeterEvent.At(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero), 1, 0, 1, MeterAction.OpenApp));
        Assert.Equal(DecisionKind.Charged, Assert.Single(d).Kind);
    }
}
