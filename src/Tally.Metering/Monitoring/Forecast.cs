namespace Tally.Metering;

/// <summary>How a forecast projected the rest of the period.</summary>
public enum ForecastMethod : byte
{
    /// <summary>Hour by hour at the mean rate of the same weekday and local hour (with fallbacks).</summary>
    WeekdayAware,
    /// <summary>The baseline: the period's average rate so far, <c>consumed ÷ elapsed</c>, for every remaining hour.</summary>
    Linear,
}

public enum RunOutOutcome : byte
{
    /// <summary>
    /// Already consumed so far that another whole unit no longer fits under the threshold (at or past it when unit
    /// granularity is ignored); <see cref="RunOut.At"/> is <c>now</c>.
    /// </summary>
    AlreadyReached,
    /// <summary>Projected to reach the threshold at <see cref="RunOut.At"/>, before the period ends.</summary>
    Projected,
    /// <summary>Not reached before the period ends (the pool resets first).</summary>
    NotWithinPeriod,
    /// <summary>There is no threshold: unlimited overage, or no pool at all.</summary>
    Never,
}

/// <summary>When a threshold is reached. Invariant: <see cref="At"/> is set exactly when the outcome is already reached or projected.</summary>
public readonly record struct RunOut(RunOutOutcome Outcome, DateTimeOffset? At)
{
    public static RunOut Never => new(RunOutOutcome.Never, null);

    public static RunOut NotWithinPeriod => new(RunOutOutcome.NotWithinPeriod, null);
}

/// <summary>
/// A projection of the period's consumption. <see cref="ProjectedDemandMinutes"/> is what usage would add up to;
/// <see cref="ProjectedMinutes"/> is that capped at the pool's limit, because the grant rule keeps
/// <c>consumed ≤ limit</c> (R7). The run-outs ignore unit granularity: they are the instants the projected curve
/// crosses the included minutes and the limit. A threshold counts as already reached once the next unit would cross
/// it: with 9,996 of 10,000 minutes used and six-minute units, no unit is granted inside the pool any more.
/// </summary>
public sealed record Forecast(
    ForecastMethod Method,
    DateTimeOffset Now,
    PeriodWindow Period,
    long ConsumedMinutes,
    double ProjectedDemandMinutes,
    double ProjectedMinutes,
    RunOut IncludedRunOut,
    RunOut LimitRunOut,
    RateSource WeakestSource)
{
    /// <summary>The same model's 10th–90th percentile range; degenerate (both ends the point forecast) for the linear baseline.</summary>
    public ForecastBand Band { get; init; } = ForecastBand.Point(ProjectedDemandMinutes, IncludedRunOut, LimitRunOut);

    /// <summary>What the model read from the history: trend, level shift and calendar; null for the linear baseline.</summary>
    public ForecastModel? Model { get; init; }
}

/// <summary>
/// The forecast's uncertainty as a range from the same model: the period's demand at its 10th and 90th percentiles,
/// and each threshold's run-out instant at its 10th (<c>Earliest</c>, the pessimistic bound: usage runs high) and 90th
/// (<c>Latest</c>) percentiles. A bound past the period's end is <see cref="RunOutOutcome.NotWithinPeriod"/>.
/// Invariant: <c>LowDemandMinutes ≤ HighDemandMinutes</c>, and an earliest run-out is never after the latest.
/// </summary>
public readonly record struct ForecastBand(
    double LowDemandMinutes,
    double HighDemandMinutes,
    RunOut IncludedEarliest,
    RunOut IncludedLatest,
    RunOut LimitEarliest,
    RunOut LimitLatest)
{
    /// <summary>No spread: every bound is the point forecast.</summary>
    public static ForecastBand Point(double demandMinutes, RunOut included, RunOut limit) => new(demandMinutes, demandMinutes, included, included, limit, limit);
}

/// <summary>
/// What the forecaster found in the history, so a forecast can be explained. <see cref="TrendPerWeek"/> is the
/// working-day level's growth per week as a fraction of today's level (0: none found); <see cref="LevelShiftDay"/>
/// is the local day a lasting step in the level began, when one was found in the recent weeks;
/// <see cref="WorkingDayLevel"/> is the minutes of a typical working day now; <see cref="Calendar"/> the closed days used.
/// </summary>
public sealed record ForecastModel(double WorkingDayLevel, double TrendPerWeek, DateOnly? LevelShiftDay, int HistoryDays, WorkCalendar Calendar);

/// <summary>
/// What the weekday-aware forecast needs. <paramref name="History"/> is hourly buckets over
/// <c>[HistoryStart, Now)</c>, which may reach back into earlier periods (28 days is a good window: four of every
/// weekday); the shell chooses the start, and should not set it before the tenant's data begins, since hours inside
/// the window without a bucket count as zero. <paramref name="Pool"/> null means meter-only: nothing runs out.
/// </summary>
public sealed record ForecastInput(
    long ConsumedMinutes,
    PoolTerms? Pool,
    PeriodWindow Period,
    DateTimeOffset Now,
    IReadOnlyList<HourlyUsage> History,
    DateTimeOffset HistoryStart,
    TimeZoneInfo TimeZone,
    TimeSpan? RecencyHalfLife = null,
    int UnitMinutes = 1);

/// <summary>
/// Projects consumption from <c>now</c> to the period's end hour by hour (UTC hours, so DST days simply have 23 or
/// 25 of them), and interpolates the run-out instant inside the hour it falls in, which is exact for a constant rate.
/// Pure: the same inputs give the same forecast.
/// </summary>
public static class Forecaster
{
    public static Forecast WeekdayAware(ForecastInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var profile = HourlyRateProfile.Learn(input.History, input.HistoryStart, input.Now, input.TimeZone, input.RecencyHalfLife);
        return WeekdayAware(input.ConsumedMinutes, input.Pool, input.Period, input.Now, profile, input.UnitMinutes);
    }

    /// <summary>
    /// With a learned <paramref name="profile"/>. When the profile saw no hours at all, falls back to the period's
    /// linear rate so a brand-new tenant still gets a forecast. <paramref name="unitMinutes"/> is the metering unit:
    /// a threshold less than one unit away is already reached (1, the default, ignores granularity).
    /// </summary>
    public static Forecast WeekdayAware(long consumedMinutes, PoolTerms? pool, PeriodWindow period, DateTimeOffset now, HourlyRateProfile profile, int unitMinutes = 1)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (profile.ObservedHours == 0)
        {
            var linear = LinearRate(consumedMinutes, period, now);
            return Project(ForecastMethod.WeekdayAware, consumedMinutes, pool, period, now, unitMinutes,
                _ => new HourlyRate(linear, RateSource.PeriodLinear));
        }
        return Project(ForecastMethod.WeekdayAware, consumedMinutes, pool, period, now, unitMinutes, profile.RateAt);
    }

    /// <summary>The baseline: <c>consumed + consumed ÷ elapsed × remaining</c>; with nothing elapsed, nothing is added.</summary>
    public static Forecast Linear(long consumedMinutes, PoolTerms? pool, PeriodWindow period, DateTimeOffset now, int unitMinutes = 1)
    {
        var rate = LinearRate(consumedMinutes, period, now);
        return Project(ForecastMethod.Linear, consumedMinutes, pool, period, now, unitMinutes, _ => new HourlyRate(rate, RateSource.PeriodLinear));
    }

    private static double LinearRate(long consumedMinutes, PeriodWindow period, DateTimeOffset now)
    {
        var elapsedHours = (period.Clamp(now) - period.Start).TotalHours;
        return elapsedHours > 0 ? consumedMinutes / elapsedHours : 0;
    }

    private static Forecast Project(
        ForecastMethod method, long consumedMinutes, PoolTerms? pool, PeriodWindow period, DateTimeOffset now, int unitMinutes,
        Func<DateTimeOffset, HourlyRate> rateAt)
    {
        var t = period.Clamp(now);
        double? included = pool is null ? null : pool.IncludedMinutes;
        double? limit = pool is null || pool.Overage.Kind == OverageKind.Unlimited ? null : pool.LimitMinutes;
        var includedAt = Reached(consumedMinutes, included, unitMinutes, now);
        var limitAt = Reached(consumedMinutes, limit, unitMinutes, now);
        var weakest = RateSource.Slot;
        double total = consumedMinutes;

        while (t < period.End)
        {
            var next = new DateTimeOffset(Math.Min(HourlyRateProfile.FloorHour(t.UtcTicks) + TimeSpan.TicksPerHour, period.End.UtcTicks), TimeSpan.Zero);
            var rate = rateAt(t);
            weakest = rate.Source > weakest ? rate.Source : weakest;
            var added = rate.MinutesPerHour * (next - t).TotalHours;
            includedAt ??= Crossing(total, added, included, t, rate.MinutesPerHour);
            limitAt ??= Crossing(total, added, limit, t, rate.MinutesPerHour);
            total += added;
            t = next;
        }

        var cap = limit ?? double.PositiveInfinity;
        return new Forecast(method, now, period, consumedMinutes, total, Math.Min(total, cap),
            Settle(includedAt, included, period), Settle(limitAt, limit, period), weakest);
    }

    private static RunOut? Reached(long consumed, double? threshold, int unitMinutes, DateTimeOffset now) =>
        threshold is { } x && IsReached(consumed, x, unitMinutes) ? new RunOut(RunOutOutcome.AlreadyReached, now) : null;

    /// <summary>
    /// Whether <paramref name="threshold"/> is reached at <paramref name="consumed"/> minutes: less than a unit is left,
    /// so the next unit cannot be granted under it. For the limit, users are locked out now, whatever the average rate
    /// says (integer minutes and a unit of 1 give plain consumed ≥ threshold).
    /// </summary>
    public static bool IsReached(long consumed, double threshold, int unitMinutes) => threshold - consumed < Math.Max(1, unitMinutes);

    // Inside one hour the rate is constant, so the crossing is a straight-line interpolation.
    private static RunOut? Crossing(double before, double added, double? threshold, DateTimeOffset hourFrom, double rate)
    {
        if (threshold is not { } x || rate <= 0 || before + added < x)
        {
            return null;
        }
        var ticks = (long)Math.Round((x - before) / rate * TimeSpan.TicksPerHour);
        return new RunOut(RunOutOutcome.Projected, hourFrom.AddTicks(ticks).ToUniversalTime());
    }

    // Reaching the threshold exactly as the period ends is not running out: the pool resets at that instant.
    private static RunOut Settle(RunOut? found, double? threshold, PeriodWindow period) =>
        found is { Outcome: RunOutOutcome.Projected, At: { } at } && at >= period.End ? RunOut.NotWithinPeriod
        : found ?? (threshold is null ? RunOut.Never : RunOut.NotWithinPeriod);
}
