namespace Tally.Metering.Tests;

/// <summary>R4 (actions), R5 (scheduled reloads) and R6 (connections and sessions).</summary>
public class ActionAndSessionTests
{
    [Theory]
    [InlineData("open-app")]
    [InlineData("select")]
    [InlineData("navigate")]
    [InlineData("reload")]
    [InlineData("insight")]
    [InlineData("profile")]
    [InlineData("create-bookmark")]
    [InlineData("create-story")]
    [InlineData("create-snapshot")]
    public void Apply_EngagementAction_Charges(string action)
    {
        var s = new Scenario();
        Assert.Equal(DecisionKind.Charged, s.Single(0, "alice", "d", "a", action).Kind);
    }

    [Theory]
    [InlineData("create-sheet")]
    [InlineData("edit-sheet")]
    [InlineData("publish-sheet")]
    [InlineData("create-app")]
    [InlineData("edit-app")]
    [InlineData("publish-app")]
    public void Apply_RestrictedActionByCapacityUser_DeniedNotPermittedWithoutCharge(string action)
    {
        var s = new Scenario(Scenario.Pool(60));
        var d = s.Single(0, "alice", "d", "a", action);
        Assert.Equal(DecisionKind.Denied, d.Kind);
        Assert.Equal(DenyReason.NotPermitted, d.Reason);
        Assert.Equal(0, s.Meter.PoolOf(d.Period).ConsumedMinutes);
        // Not an engagement: it connected no one, so a reload of the app charges nobody.
        Assert.Empty(s.Reload(1, "a"));
    }

    [Fact]
    public void Apply_RestrictedActionByProfessional_IsFree()
    {
        var s = new Scenario(directory: new Fixed(Allocation.Professional));
        Assert.Equal(DecisionKind.Free, s.Single(0, "alice", "d", "a", "edit-sheet").Kind);
    }

    [Theory]
    [InlineData("heartbeat", null)]
    [InlineData("close-app", "a")]
    [InlineData("logout", null)]
    public void Apply_PresenceAndClosing_AreFree(string action, string? app)
    {
        var s = new Scenario();
        var d = s.Single(0, "alice", "d", app, action);
        Assert.Equal(DecisionKind.Free, d.Kind);
        Assert.Equal(0, s.Units);
    }

    [Fact]
    public void Reload_NobodyConnected_CostsNothing()
    {
        var s = new Scenario();
        Assert.Empty(s.Reload(0, "sales"));
        Assert.Equal(0, s.Units);
    }

    [Fact]
    public void Reload_ConnectedIdleUser_ChargesThatUsersKey()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        var d = Assert.Single(s.Reload(10, "sales"));
        Assert.Equal(DecisionKind.Charged, d.Kind);
        Assert.Equal(s.UserId("alice"), d.User);
        Assert.Equal(MeterAction.ScheduledReload, d.Action);
        Assert.Equal(Scenario.At(10), d.UnitStart);
    }

    [Fact]
    public void Reload_DuringRunningUnit_IsCovered()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Equal(DecisionKind.Covered, Assert.Single(s.Reload(3, "sales")).Kind);
        Assert.Equal(1, s.Units);
    }

    [Fact]
    public void Reload_OtherApp_ChargesNobody()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Empty(s.Reload(10, "hr"));
    }

    [Fact]
    public void Reload_ClosedApp_ChargesNobody()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(1, "alice", "laptop", "sales", "close-app");
        Assert.Empty(s.Reload(10, "sales"));
    }

    [Fact]
    public void Reload_CloseAppEndsOnlyThatApp()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(0, "alice", "laptop", "hr", "open-app");
        s.Single(1, "alice", "laptop", "hr", "close-app");
        Assert.Single(s.Reload(10, "sales"));
        Assert.Empty(s.Reload(20, "hr"));
    }

    [Fact]
    public void Reload_ClosingTheFirstOfThreeApps_KeepsTheOtherTwo()
    {
        var s = new Scenario(Scenario.App);
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(0, "alice", "laptop", "hr", "open-app");
        s.Single(0, "alice", "laptop", "fin", "open-app");
        s.Single(1, "alice", "laptop", "sales", "close-app");
        Assert.Empty(s.Reload(10, "sales"));
        Assert.Single(s.Reload(10, "hr"));
        Assert.Single(s.Reload(10, "fin"));
        s.Single(11, "alice", "laptop", "fin", "close-app");
        Assert.Single(s.Reload(20, "hr"));
        Assert.Empty(s.Reload(20, "fin"));
    }

    [Fact]
    public void Reload_LogoutEndsEveryAppOnThatDeviceOnly()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(0, "alice", "phone", "sales", "open-app");
        s.Single(1, "alice", "laptop", null, "logout");
        var d = Assert.Single(s.Reload(10, "sales"));
        Assert.Equal(DecisionKind.Charged, d.Kind);
    }

    [Fact]
    public void Reload_ExpiredSession_ChargesNobody()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        // Exactly at last + 30 min the session has expired.
        Assert.Empty(s.Reload(30, "sales"));
    }

    [Fact]
    public void Reload_JustBeforeTimeout_StillCharges()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Single(s.Reload(29.99, "sales"));
    }

    [Fact]
    public void Reload_DoesNotRefreshSessions()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Single(s.Reload(20, "sales"));
        // 30 minutes after alice's own last event the session is gone, whatever the reload did at 20.
        Assert.Empty(s.Reload(31, "sales"));
    }

    [Fact]
    public void Session_AnyEventKind_KeepsItAlive()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(25, "alice", "laptop", null, "heartbeat");
        s.Single(50, "alice", "laptop", "other", "edit-sheet");
        Assert.Single(s.Reload(70, "sales"));
    }

    [Fact]
    public void Session_Expired_NextEngagementStartsAfresh()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(0, "alice", "laptop", "hr", "open-app");
        s.Single(40, "alice", "laptop", "sales", "select");
        // hr's connection ended with the old session; only sales was reconnected.
        Assert.Empty(s.Reload(50, "hr"));
        Assert.Single(s.Reload(50, "sales"));
    }

    [Fact]
    public void Reload_AppMode_SeveralDevicesOnOneKey_OneUnitOneDecision()
    {
        var s = new Scenario(Scenario.App);
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(0, "alice", "phone", "sales", "open-app");
        var d = Assert.Single(s.Reload(10, "sales"));
        Assert.Equal(DecisionKind.Charged, d.Kind);
    }

    [Fact]
    public void Reload_DeviceMode_EachDeviceIsItsOwnKey()
    {
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(0, "alice", "phone", "sales", "open-app");
        var decisions = s.Reload(10, "sales");
        Assert.Equal(2, decisions.Count);
        Assert.All(decisions, d => Assert.Equal(DecisionKind.Charged, d.Kind));
    }

    [Fact]
    public void Reload_DeviceMode_SharedDeviceUnitCoversOtherApps()
    {
        // Device mode: the reload of sales falls inside the unit alice's hr activity started on the same device.
        var s = new Scenario();
        s.Single(0, "alice", "laptop", "sales", "open-app");
        s.Single(10, "alice", "laptop", "hr", "open-app");
        Assert.Equal(DecisionKind.Covered, Assert.Single(s.Reload(12, "sales")).Kind);
    }

    [Fact]
    public void Connection_DeniedEngagement_StillConnects()
    {
        // R6: connected from the first engagement "whatever its decision". With an empty pool the open is denied,
        // yet a later reload of the app still reaches alice's key: she is connected (and is denied again).
        var s = new Scenario(Scenario.Pool(0));
        var start = Scenario.At(0);
        Assert.Equal(DecisionKind.Denied, Assert.Single(s.Event(start, "alice", "laptop", "sales", "open-app")).Kind);
        var reload = Assert.Single(s.Event(start.AddMinutes(15), null, null, "sales", "scheduled-reload"));
        Assert.Equal(DecisionKind.Denied, reload.Kind);
        Assert.Equal(DenyReason.PoolExhausted, reload.Reason);
        Assert.Equal(s.UserId("alice"), reload.User);
    }

    [Fact]
    public void Reload_PoolCannotCover_DeniedForThatKeyAndCountedAsUsersDenial()
    {
        var s = new Scenario(Scenario.Pool(6));
        s.Single(0, "alice", "laptop", "sales", "open-app");
        var d = Assert.Single(s.Reload(10, "sales"));
        Assert.Equal(DenyReason.PoolExhausted, d.Reason);
        Assert.Equal(s.UserId("alice"), d.User);
        Assert.Equal(1, s.Meter.PoolOf(d.Period).DeniedEvents);
    }

    [Theory]
    [InlineData(false, "alice")] // alice's phone connection (minute 0) is the earliest of all
    [InlineData(true, "bob")]    // closed: her earliest live connection (minute 2) comes after bob's (minute 1)
    public void Reload_PoolCoversSomeKeys_ServedInConnectionOrder_AKeyTakesItsEarliestConnection(bool closePhone, string served)
    {
        // App mode: alice's two devices are one key (alice, sales). 24 pool minutes: three opening units, one left.
        var s = new Scenario(Scenario.Pool(24, mode: CountingMode.App));
        s.Single(0, "alice", "phone", "sales", "open-app");
        s.Single(1, "bob", "laptop", "sales", "open-app");
        s.Single(2, "alice", "laptop", "sales", "open-app");
        s.Single(3, "cy", "laptop", "sales", "open-app");
        if (closePhone)
        {
            s.Single(5, "alice", "phone", "sales", "close-app");
        }
        var decisions = s.Reload(10, "sales");
        Assert.Equal(3, decisions.Count);
        var charged = Assert.Single(decisions, d => d.Kind == DecisionKind.Charged);
        Assert.Equal(s.UserId(served), charged.User);
        Assert.All(decisions.Where(d => d.Kind != DecisionKind.Charged), d => Assert.Equal(DenyReason.PoolExhausted, d.Reason));
    }

    [Fact]
    public void Reload_NamedUserConnected_IsNotCharged()
    {
        var s = new Scenario(Scenario.Pool(60), new Fixed(Allocation.Analyzer));
        s.Single(0, "alice", "laptop", "sales", "open-app");
        Assert.Empty(s.Reload(10, "sales"));
        Assert.Equal(0, s.Meter.PoolOf(new Period(2026, 3)).ConsumedMinutes);
    }

    private sealed class Fixed(Allocation allocation) : IUserDirectory
    {
        public UserTerms Resolve(int user) => new(allocation);
    }
}
