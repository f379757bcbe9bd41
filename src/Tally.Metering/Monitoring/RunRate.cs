namespace Tally.Metering;

/// <summary>Where consumption stands against the even pace through the period.</summary>
public enum RunRateStatus : byte
{
    /// <summary>Consumed less than expected by more than the tolerance: the pool lasts past the period.</summary>
    Behind,
    /// <summary>Within the tolerance of the expected minutes.</summary>
    OnTrack,
    /// <summary>
    /// Consumed more than expected by more than the tolerance (at this pace the pool runs out early), or the pool is
    /// already exhausted (it did run out, so users are denied) whatever the delta.
    /// </summary>
    Ahead,
}

/// <summary>
/// How far from the expected minutes still counts as on track: the larger of <see cref="Percent"/> percent of the
/// expected minutes and <see cref="IncludedShare"/> of the included minutes. The floor matters early in the month,
/// when the expected figure is tiny and a single busy hour would otherwise read as far ahead.
/// Invariant: both are non-negative.
/// </summary>
public readonly record struct RunRateTolerance(double Percent, double IncludedShare)
{
    /// <summary>±5 % of expected, and never tighter than 1 % of the included minutes.</summary>
    public static RunRateTolerance Default => new(5, 0.01);

    public double BandMinutes(double expectedMinutes, long includedMinutes) =>
        Math.Max(Math.Max(0, Percent) / 100 * expectedMinutes, Math.Max(0, IncludedShare) * includedMinutes);
}

/// <summary>
/// Consumption against the run-rate: <c>expected = included × elapsed share</c> (share clamped to [0, 1]),
/// <c>delta = consumed − expected</c>, <c>delta% = delta / expected × 100</c> (null when expected is 0).
/// </summary>
public readonly record struct RunRate(
    long ConsumedMinutes,
    long IncludedMinutes,
    double ElapsedShare,
    double ExpectedMinutes,
    double DeltaMinutes,
    double? DeltaPercent,
    RunRateStatus Status)
{
    public static RunRate Compute(long consumedMinutes, long includedMinutes, PeriodWindow period, DateTimeOffset now) =>
        Compute(consumedMinutes, includedMinutes, period, now, RunRateTolerance.Default);

    // poolExhausted: the pool's limit is reached (no further unit fits), so the status is ahead: a pool that ran out
    // before the period's end was consumed too fast even when the month's total looks on pace.
    public static RunRate Compute(
        long consumedMinutes, long includedMinutes, PeriodWindow period, DateTimeOffset now, RunRateTolerance tolerance, bool poolExhausted = false)
    {
        var share = period.ElapsedShare(now);
        var expected = includedMinutes * share;
        var delta = consumedMinutes - expected;
        double? percent = expected > 0 ? delta / expected * 100 : null;
        var band = tolerance.BandMinutes(expected, includedMinutes);
        var status = poolExhausted || delta > band ? RunRateStatus.Ahead : delta < -band ? RunRateStatus.Behind : RunRateStatus.OnTrack;
        return new RunRate(consumedMinutes, includedMinutes, share, expected, delta, percent, status);
    }
}
