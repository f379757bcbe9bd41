namespace Tally.Metering.Tests.Monitoring;

/// <summary>Run-rate against hand-computed cases: expected = included × elapsed share.</summary>
public class RunRateTests
{
    private static readonly PeriodCalendar Utc = new(TimeZoneInfo.Utc);
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    // April 2026 in UTC: exactly 30 days, 720 hours.
    private static readonly PeriodWindow April = PeriodWindow.Of(Utc, new Period(2026, 4));

    private static DateTimeOffset Utc0(int month, int day, int hour = 0, int minute = 0) => new(2026, month, day, hour, minute, 0, TimeSpan.Zero);

    [Fact]
    public void Window_Of_April_IsThirtyDays()
    {
        Assert.Equal(Utc0(4, 1), April.Start);
        Assert.Equal(Utc0(5, 1), April.End);
        Assert.Equal(TimeSpan.FromDays(30), April.Length);
    }

    [Fact]
    public void Compute_AtPeriodStart_ExpectsNothingAndPercentIsNull()
    {
        var r = RunRate.Compute(0, 3000, April, Utc0(4, 1));
        Assert.Equal(0, r.ElapsedShare);
        Assert.Equal(0, r.ExpectedMinutes);
        Assert.Equal(0, r.DeltaMinutes);
        Assert.Null(r.DeltaPercent);
        Assert.Equal(RunRateStatus.OnTrack, r.Status);
    }

    [Fact]
    public void Compute_HalfwayAndAbove_IsAhead()
    {
        // 15 of 30 days: expected 3000 × 0.5 = 1500; 1800 is +300, +20 %.
        var r = RunRate.Compute(1800, 3000, April, Utc0(4, 16));
        Assert.Equal(0.5, r.ElapsedShare);
        Assert.Equal(1500, r.ExpectedMinutes);
        Assert.Equal(300, r.DeltaMinutes);
        Assert.Equal(20, r.DeltaPercent!.Value, 9);
        Assert.Equal(RunRateStatus.Ahead, r.Status);
    }

    [Fact]
    public void Compute_HalfwayWithinFivePercent_IsOnTrack()
    {
        // +60 is 4 % of 1500, inside the band max(5 % × 1500, 1 % × 3000) = 75.
        var r = RunRate.Compute(1560, 3000, April, Utc0(4, 16));
        Assert.Equal(4, r.DeltaPercent!.Value, 9);
        Assert.Equal(RunRateStatus.OnTrack, r.Status);
    }

    [Fact]
    public void Compute_AtPeriodEndAndBelow_IsBehind()
    {
        var r = RunRate.Compute(2700, 3000, April, Utc0(5, 1));
        Assert.Equal(1, r.ElapsedShare);
        Assert.Equal(3000, r.ExpectedMinutes);
        Assert.Equal(-300, r.DeltaMinutes);
        Assert.Equal(-10, r.DeltaPercent!.Value, 9);
        Assert.Equal(RunRateStatus.Behind, r.Status);
    }

    [Fact]
    public void Compute_AfterPeriodEnd_ClampsShareToOne()
    {
        var r = RunRate.Compute(3000, 3000, April, Utc0(5, 3));
        Assert.Equal(1, r.ElapsedShare);
        Assert.Equal(RunRateStatus.OnTrack, r.Status);
    }

    [Fact]
    public void Compute_EarlyInMonth_SmallDeltaUnderIncludedFloor_IsOnTrack()
    {
        // One hour in: expected 3000/720 ≈ 4.17; 24 consumed is +476 % but under the 1 % floor of 30 minutes.
        var r = RunRate.Compute(24, 3000, April, Utc0(4, 1, 1));
        Assert.True(r.DeltaPercent > 400);
        Assert.Equal(RunRateStatus.OnTrack, r.Status);
    }

    [Fact]
    public void Compute_NoIncludedMinutes_PercentNullAndAnyUseIsAhead()
    {
        var r = RunRate.Compute(6, 0, April, Utc0(4, 16));
        Assert.Null(r.DeltaPercent);
        Assert.Equal(RunRateStatus.Ahead, r.Status);
    }

    [Fact]
    public void Window_ParisMarch_StartsAndEndsAtLocalMidnightAcrossDst()
    {
        // March 2026 in Paris: CET (+1) at the start, CEST (+2) from the 29th, so 31 × 24 − 1 = 743 hours.
        var march = PeriodWindow.Of(new PeriodCalendar(Paris), new Period(2026, 3));
        Assert.Equal(Utc0(2, 28, 23), march.Start);
        Assert.Equal(Utc0(3, 31, 22), march.End);
        Assert.Equal(TimeSpan.FromHours(743), march.Length);
    }

    [Fact]
    public void Compute_ParisMarch_UsesLocalBounds()
    {
        var march = PeriodWindow.Of(new PeriodCalendar(Paris), new Period(2026, 3));
        // Local 17 March 00:00 CET is 16 March 23:00Z: 16 days = 384 of 743 hours.
        var now = Utc0(3, 16, 23);
        var r = RunRate.Compute(4000, 7430, march, now);
        Assert.Equal(384.0 / 743, r.ElapsedShare, 12);
        Assert.Equal(3840, r.ExpectedMinutes, 9);
        Assert.Equal(160, r.DeltaMinutes, 9);
        // The same instant against UTC March would be 16 days 23 hours of 744: a different share.
        Assert.NotEqual(r.ElapsedShare, PeriodWindow.Of(Utc, new Period(2026, 3)).ElapsedShare(now));
    }

    [Fact]
    public void Containing_InstantLateOnLastUtcDay_IsNextLocalMonthInTokyo()
    {
        var tokyo = new PeriodCalendar(TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo"));
        var w = PeriodWindow.Containing(tokyo, Utc0(3, 31, 16));
        Assert.Equal(Utc0(3, 31, 15), w.Start);
        Assert.Equal(TimeSpan.FromDays(30), w.Length);
    }

    [Fact]
    public void Compute_PoolExhaustedWithinTolerance_Ahead()
    {
        // 9,996 of 10,000 at the period's end is within the tolerance, but users are denied: not on track.
        var onPace = RunRate.Compute(9_996, 10_000, April, April.End, RunRateTolerance.Default);
        var exhausted = RunRate.Compute(9_996, 10_000, April, April.End, RunRateTolerance.Default, poolExhausted: true);

        Assert.Equal(RunRateStatus.OnTrack, onPace.Status);
        Assert.Equal(RunRateStatus.Ahead, exhausted.Status);
        Assert.Equal(onPace.DeltaMinutes, exhausted.DeltaMinutes);
    }
}
