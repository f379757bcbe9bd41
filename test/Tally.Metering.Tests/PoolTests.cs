namespace Tally.Metering.Tests;

/// <summary>R7 (pools and the grant rule), R8 (lockout), R10 (duplicates) and R11 (decisions).</summary>
public class PoolTests
{
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    [Fact]
    public void Grant_UntilIncludedMinutes_ThenDeniedPoolExhausted()
    {
        var s = new Scenario(Scenario.Pool(12));
        Assert.Equal(DecisionKind.Charged, s.Single(0, "a", null, "x", "open-app").Kind);
        Assert.Equal(DecisionKind.Charged, s.Single(0, "b", null, "x", "open-app").Kind);
        var denied = s.Single(0, "c", null, "x", "open-app");
        Assert.Equal(DenyReason.PoolExhausted, denied.Reason);
        Assert.Null(denied.UnitStart);
        Assert.Equal(12, s.Meter.PoolOf(denied.Period).ConsumedMinutes);
    }

    [Fact]
    public void Grant_PoolNotAMultipleOfUnit_NeverExceedsLimit()
    {
        // consumed + U <= limit: 10 minutes buys one six-minute unit, not two.
        var s = new Scenario(Scenario.Pool(10));
        s.Single(0, "a", null, "x", "open-app");
        Assert.Equal(DecisionKind.Denied, s.Single(0, "b", null, "x", "open-app").Kind);
        Assert.Equal(6, s.Meter.PoolOf(new Period(2026, 3)).ConsumedMinutes);
    }

    [Fact]
    public void Lockout_CoveredEventsStayAllowed_NewUnitsDenied()
    {
        var s = new Scenario(Scenario.Pool(6));
        s.Single(0, "a", null, "x", "open-app");
        Assert.Equal(DecisionKind.Covered, s.Single(5, "a", null, "x", "select").Kind);
        var denied = s.Single(6, "a", null, "x", "select");
        Assert.Equal(DenyReason.PoolExhausted, denied.Reason);
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), denied.RetryAfter);
    }

    [Fact]
    public void Lockout_DeniedEventStartsNoUnit_NextEventNeedsANewUnitToo()
    {
        var s = new Scenario(Scenario.Pool(6));
        s.Single(0, "a", null, "x", "open-app");
        Assert.Equal(DecisionKind.Denied, s.Single(6, "a", null, "x", "select").Kind);
        Assert.Equal(DecisionKind.Denied, s.Single(7, "a", null, "x", "select").Kind);
    }

    [Fact]
    public void Lockout_NextPeriod_StartsWithAnEmptyPool()
    {
        var s = new Scenario(Scenario.Pool(6));
        var end = new DateTimeOffset(2026, 3, 31, 23, 0, 0, TimeSpan.Zero);
        s.Event(end, "a", null, "x", "open-app");
        Assert.Equal(DecisionKind.Denied, Assert.Single(s.Event(end.AddMinutes(30), "b", null, "x", "open-app")).Kind);
        var april = Assert.Single(s.Event(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), "b", null, "x", "open-app"));
        Assert.Equal(DecisionKind.Charged, april.Kind);
        Assert.Equal(new Period(2026, 4), april.Period);
    }

    [Fact]
    public void CappedOverage_GrantsPastIncluded_ThenLocksOut()
    {
        var s = new Scenario(Scenario.Pool(6, OverageAllowance.Capped(12)));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(DecisionKind.Charged, s.Single(0, $"u{i}", null, "x", "open-app").Kind);
        }
        Assert.Equal(DenyReason.PoolExhausted, s.Single(0, "u3", null, "x", "open-app").Reason);
        var pool = s.Meter.PoolOf(new Period(2026, 3));
        Assert.Equal(18, pool.ConsumedMinutes);
        Assert.Equal(12, pool.OverageMinutes);
        Assert.Equal(18, pool.LimitMinutes);
    }

    [Fact]
    public void UnlimitedOverage_NeverDenies()
    {
        var s = new Scenario(Scenario.Pool(0, OverageAllowance.Unlimited));
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(DecisionKind.Charged, s.Single(i * 6, "a", null, "x", "select").Kind);
        }
        Assert.Equal(600, s.Meter.PoolOf(new Period(2026, 3)).OverageMinutes);
    }

    [Fact]
    public void NoPool_MetersOnly_NothingDenied()
    {
        var s = new Scenario();
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(DecisionKind.Charged, s.Single(0, $"u{i}", null, "x", "open-app").Kind);
        }
        var pool = s.Meter.PoolOf(new Period(2026, 3));
        Assert.Null(pool.IncludedMinutes);
        Assert.Equal(300, pool.ConsumedMinutes);
        Assert.Equal(0, pool.OverageMinutes);
    }

    [Fact]
    public void Period_UnitCrossingMonthEnd_BelongsToTheMonthItStarted()
    {
        var s = new Scenario(Scenario.Pool(6));
        var d = Assert.Single(s.Event(new DateTimeOffset(2026, 3, 31, 23, 58, 0, TimeSpan.Zero), "a", null, "x", "open-app"));
        Assert.Equal(new Period(2026, 3), d.Period);
        var covered = Assert.Single(s.Event(new DateTimeOffset(2026, 4, 1, 0, 2, 0, TimeSpan.Zero), "a", null, "x", "select"));
        Assert.Equal(DecisionKind.Covered, covered.Kind);
        Assert.Equal(0, s.Meter.PoolOf(new Period(2026, 4)).ConsumedMinutes);
        Assert.Equal(6, s.Meter.PoolOf(new Period(2026, 3)).ConsumedMinutes);
    }

    [Fact]
    public void Period_NonUtcZone_MonthStartsAtLocalMidnight()
    {
        // 2026-02-28T23:30Z is 00:30 on 1 March in Paris (UTC+1 in winter).
        var s = new Scenario(new MeterOptions { TimeZone = Paris, Pool = new PoolTerms(6, OverageAllowance.None) });
        var d = Assert.Single(s.Event(new DateTimeOffset(2026, 2, 28, 23, 30, 0, TimeSpan.Zero), "a", null, "x", "open-app"));
        Assert.Equal(new Period(2026, 3), d.Period);
        var denied = Assert.Single(s.Event(new DateTimeOffset(2026, 3, 10, 12, 0, 0, TimeSpan.Zero), "b", null, "x", "open-app"));
        // Access returns at local midnight on 1 April: 22:00Z, as Paris is on summer time (UTC+2) by then.
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 22, 0, 0, TimeSpan.Zero), denied.RetryAfter);
    }

    [Fact]
    public void Calendar_ZoneWithoutMidnight_StartsAtFirstExistingInstant()
    {
        // Some zones move their clocks at midnight. Whatever the zone, the instant a period starts must belong to
        // that period and the tick before it to the previous one.
        foreach (var zone in TimeZoneInfo.GetSystemTimeZones())
        {
            var calendar = new PeriodCalendar(zone);
            for (var month = 1; month <= 12; month++)
            {
                var period = new Period(2026, month);
                var start = calendar.StartTicks(period);
                Assert.Equal(period, calendar.PeriodOf(start));
                Assert.NotEqual(period, calendar.PeriodOf(start - 1));
            }
        }
    }

    [Fact]
    public void Duplicate_SameId_ChangesNothing()
    {
        var s = new Scenario(Scenario.Pool(60));
        s.Single(0, "a", null, "x", "open-app", id: "e1");
        var dup = s.Single(7, "a", null, "x", "open-app", id: "e1");
        Assert.Equal(DecisionKind.Duplicate, dup.Kind);
        Assert.Equal(6, s.Meter.PoolOf(new Period(2026, 3)).ConsumedMinutes);
        // The duplicate did not start a unit: the next real event at 7 is charged.
        Assert.Equal(DecisionKind.Charged, s.Single(7, "a", null, "x", "select", id: "e2").Kind);
    }

    [Fact]
    public void Duplicate_EventsWithoutId_AreNeverDeduplicated()
    {
        var s = new Scenario();
        s.Single(0, "a", null, "x", "open-app");
        Assert.Equal(DecisionKind.Covered, s.Single(0, "a", null, "x", "open-app").Kind);
    }

    [Fact]
    public void Duplicate_OfDeniedEvent_IsStillADuplicate()
    {
        // A denied event is recorded (R11), so its id is taken.
        var s = new Scenario(Scenario.Pool(0));
        Assert.Equal(DecisionKind.Denied, s.Single(0, "a", null, "x", "open-app", id: "e1").Kind);
        Assert.Equal(DecisionKind.Duplicate, s.Single(1, "a", null, "x", "open-app", id: "e1").Kind);
    }

    [Fact]
    public void IdMemory_IdOlderThanTheWindow_Forgotten_InsideItStillADuplicate()
    {
        var s = new Scenario(idMemory: TimeSpan.FromMinutes(60));
        Assert.Equal(DecisionKind.Charged, s.Single(0, "ann", null, "x", "open-app", id: "a").Kind);
        Assert.Equal(DecisionKind.Duplicate, s.Single(60, "ann", null, "x", "select", id: "a").Kind); // exactly the window: remembered
        Assert.True(s.Meter.MayHaveAccepted("a"));
        s.Single(61, "bob", null, "x", "open-app", id: "b");
        // Past the window the meter forgets "a" (the server asks its ledger for such ids before applying them).
        Assert.False(s.Meter.MayHaveAccepted("a"));
        Assert.Equal((1L, 1), (s.Meter.ForgottenIds, s.Meter.RememberedIds));
        Assert.Equal(DecisionKind.Duplicate, s.Single(62, "bob", null, "x", "select", id: "b").Kind);
    }

    [Fact]
    public void IdMemory_AMonthOfUniqueIds_RemembersOnlyOneWindow()
    {
        // 30 days, one event a minute, every id new, beside a meter without a window fed the same.
        const int minutes = 30 * 24 * 60;
        var windowed = new Scenario(idMemory: TimeSpan.FromHours(2));
        var unbounded = new Scenario();
        for (var minute = 0; minute < minutes; minute++)
        {
            windowed.Event(Scenario.At(minute), $"user-{minute % 50}", null, "x", "heartbeat", id: $"ev-{minute}");
            unbounded.Event(Scenario.At(minute), $"user-{minute % 50}", null, "x", "heartbeat", id: $"ev-{minute}");
        }
        Assert.Equal(minutes, unbounded.Meter.RememberedIds);
        // The last two hours of ids, both ends included (121), and at most one generation (a sixteenth of the window,
        // 7.5 minutes: 8 ids) more, since ids are forgotten a generation at a time.
        Assert.InRange(windowed.Meter.RememberedIds, 121, 121 + 8);
        Assert.Equal(minutes - windowed.Meter.RememberedIds, windowed.Meter.ForgottenIds);
    }

    [Fact]
    public void Validity_OutsideLicenseWindow_DeniedLicenseExpired()
    {
        var options = new MeterOptions { Validity = new ValidityWindow(Scenario.At(0).UtcTicks, Scenario.At(10).UtcTicks) };
        var s = new Scenario(options);
        Assert.Equal(DecisionKind.Charged, s.Single(0, "a", null, "x", "open-app").Kind);
        // Inside the unit that was granted while valid: what was paid for is kept.
        Assert.Equal(DecisionKind.Covered, s.Single(5, "a", null, "x", "select").Kind);
        Assert.Equal(DenyReason.LicenseExpired, s.Single(10, "a", null, "x", "select").Reason);
    }

    [Fact]
    public void Cap_UserPastOwnCap_DeniedUserCapReached_PoolUntouched()
    {
        var s = new Scenario(Scenario.Pool(100), new Capped(12));
        s.Single(0, "a", null, "x", "open-app");
        s.Single(6, "a", null, "x", "select");
        var denied = s.Single(12, "a", null, "x", "select");
        Assert.Equal(DenyReason.UserCapReached, denied.Reason);
        Assert.Equal(12, s.Meter.PoolOf(denied.Period).ConsumedMinutes);
        Assert.Equal(DecisionKind.Charged, s.Single(12, "b", null, "x", "select").Kind);
        Assert.Equal(12, s.Meter.UserMinutes(s.UserId("a"), denied.Period));
    }

    [Fact]
    public void NamedUser_MeteredAtZeroMinutes_PoolUntouched()
    {
        var s = new Scenario(Scenario.Pool(6), new Named());
        var d = s.Single(0, "a", null, "x", "open-app");
        Assert.Equal(DecisionKind.Free, d.Kind);
        Assert.Equal(0, d.Minutes);
        Assert.NotNull(d.UnitStart);
        Assert.Equal(DecisionKind.Covered, s.Single(3, "a", null, "x", "select").Kind);
        Assert.Equal(0, s.Meter.PoolOf(d.Period).ConsumedMinutes);
    }

    [Fact]
    public void UnlicensedUser_DeniedNotLicensed()
    {
        var s = new Scenario(Scenario.Pool(60), new Unlicensed());
        Assert.Equal(DenyReason.NotLicensed, s.Single(0, "a", null, "x", "open-app").Reason);
        Assert.Equal(DecisionKind.Free, s.Single(1, "a", null, null, "heartbeat").Kind);
    }

    private sealed class Capped(long minutes) : IUserDirectory
    {
        public UserTerms Resolve(int user) => new(Allocation.Capacity, minutes);
    }

    private sealed class Named : IUserDirectory
    {
        public UserTerms Resolve(int user) => new(Allocation.Analyzer);
    }

    private sealed class Unlicensed : IUserDirectory
    {
        public UserTerms Resolve(int user) => new(Allocation.None);
    }
}
