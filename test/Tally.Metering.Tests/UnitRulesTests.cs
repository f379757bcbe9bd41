namespace Tally.Metering.Tests;

/// <summary>R1, R2 and R3: what a unit is, what it is keyed by, and when one starts.</summary>
public class UnitRulesTests
{
    [Fact]
    public void Apply_FirstEngagement_ChargesOneUnitOfUMinutes()
    {
        var s = new Scenario();
        var d = s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Equal(DecisionKind.Charged, d.Kind);
        Assert.Equal(6, d.Minutes);
        Assert.Equal(Scenario.At(0), d.UnitStart);
        Assert.Equal(Scenario.At(6), d.UnitEnd);
    }

    [Fact]
    public void Apply_CustomUnitLength_ChargesThatMany()
    {
        var s = new Scenario(new MeterOptions { UnitMinutes = 10 });
        Assert.Equal(10, s.Single(0, "alice", "d", "a", "open-app").Minutes);
        Assert.Equal(DecisionKind.Covered, s.Single(9.9, "alice", "d", "a", "select").Kind);
        Assert.Equal(DecisionKind.Charged, s.Single(10, "alice", "d", "a", "select").Kind);
    }

    [Fact]
    public void Apply_InsideRunningUnit_IsCovered()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        var covered = s.Single(5.99, "alice", "laptop", "sales", "select");
        Assert.Equal(DecisionKind.Covered, covered.Kind);
        Assert.Equal(0, covered.Minutes);
        Assert.Equal(Scenario.At(6), covered.UnitEnd);
    }

    [Fact]
    public void Apply_ExactlySixMinutesApart_StartsSecondUnit()
    {
        // Half-open [s, s+U): the unit's end instant is outside it.
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Equal(DecisionKind.Charged, s.Single(6, "alice", "laptop", "sales", "select").Kind);
        Assert.Equal(2, s.Units);
    }

    [Fact]
    public void Apply_UnitsAnchoredToActivity_NotToAGrid()
    {
        // R3: 00:00, 00:07 and 00:12:30 cost two units, [00:00, 00:06) and [00:07, 00:13).
        var s = new Scenario();
        s.Single(0, "alice", "d", "a", "open-app");
        var second = s.Single(7, "alice", "d", "a", "select");
        var third = s.Single(12.5, "alice", "d", "a", "navigate");
        Assert.Equal(Scenario.At(7), second.UnitStart);
        Assert.Equal(Scenario.At(13), second.UnitEnd);
        Assert.Equal(DecisionKind.Covered, third.Kind);
        Assert.Equal(2, s.Units);
    }

    [Fact]
    public void Apply_IdleTime_CostsNothing()
    {
        var s = new Scenario();
        s.Single(0, "alice", "d", "a", "open-app");
        s.Single(25, "alice", "d", "a", "heartbeat");
        Assert.Equal(1, s.Units);
    }

    [Theory]
    [InlineData(6, 1)]
    [InlineData(14, 3)]
    [InlineData(15, 3)]
    [InlineData(26, 5)]
    public void Apply_ContinuousActivity_CostsCeilingOfDurationOverUnit(int minutes, int units)
    {
        var s = new Scenario();
        for (var m = 0; m < minutes; m++)
        {
            s.Event(Scenario.At(m), "alice", "d", "a", m == 0 ? "open-app" : "select");
        }
        Assert.Equal(units, s.Units);
    }

    [Fact]
    public void Apply_MissingDevice_UsesOneImplicitDevicePerUser()
    {
        var s = new Scenario();
        s.Single(0, "alice", null, "sales", "open-app");
        Assert.Equal(DecisionKind.Covered, s.Single(1, "alice", null, "hr", "open-app").Kind);
        Assert.Equal(DecisionKind.Charged, s.Single(1, "bob", null, "hr", "open-app").Kind);
        Assert.Equal(2, s.Units);
    }

    // R3's worked examples, both modes: (apps, devices, minutes of activity) -> units.
    [Theory]
    [InlineData(1, 1, 1, 1, 1)]
    [InlineData(2, 1, 1, 1, 2)]
    [InlineData(3, 2, 1, 2, 3)]
    [InlineData(5, 2, 1, 2, 5)]
    [InlineData(1, 1, 6, 1, 1)]
    [InlineData(1, 1, 14, 3, 3)]
    [InlineData(2, 1, 6, 1, 2)]
    [InlineData(2, 1, 14, 3, 6)]
    public void Apply_WorkedExamples_MatchTheRuleBook(int apps, int devices, int minutes, int deviceModeUnits, int appModeUnits)
    {
        Assert.Equal(deviceModeUnits, WorkedExample(CountingMode.Device, apps, devices, minutes));
        Assert.Equal(appModeUnits, WorkedExample(CountingMode.App, apps, devices, minutes));
    }

    /// <summary>
    /// One user keeps <paramref name="apps"/> apps open, spread over <paramref name="devices"/> devices, and works
    /// in every one of them every minute for <paramref name="minutes"/> minutes.
    /// </summary>
    private static int WorkedExample(CountingMode mode, int apps, int devices, int minutes)
    {
        var s = new Scenario(new MeterOptions { Mode = mode });
        for (var m = 0; m < minutes; m++)
        {
            for (var a = 0; a < apps; a++)
            {
                s.Event(Scenario.At(m), "alice", $"device{a % devices}", $"app{a}", m == 0 ? "open-app" : "select");
            }
        }
        return s.Units;
    }

    [Fact]
    public void Apply_AppMode_KeySpansDevices()
    {
        var s = new Scenario(Scenario.App);
        s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Equal(DecisionKind.Covered, s.Single(2, "alice", "phone", "sales", "open-app").Kind);
        Assert.Equal(DecisionKind.Charged, s.Single(2, "alice", "phone", "hr", "open-app").Kind);
    }

    [Fact]
    public void Apply_EventBeforeAnAppliedOne_IsRefusedAsACallerBug()
    {
        var meter = new Meter(new MeterOptions());
        meter.Apply(MeterEvent.At(Scenario.At(5), 1, 0, 1, MeterAction.OpenApp));
        Assert.Throws<ArgumentException>(() => meter.Apply(MeterEvent.At(Scenario.At(4), 1, 0, 1, MeterAction.Select)));
    }

    [Fact]
    public void MeterOptions_OutOfRange_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => new Meter(new MeterOptions { UnitMinutes = 0 }));
        Assert.Throws<ArgumentException>(() => new Meter(new MeterOptions { SessionTimeoutMinutes = 0 }));
    }
}
