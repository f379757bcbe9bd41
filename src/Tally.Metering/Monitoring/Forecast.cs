namespace Tally.Metering;

/// <summary>How a forecast projected the rest of the period.</summary>
public enum ForecastMethod : byte
{
    /// <summary>
    /// Day by day from a robust level with trend and step, weekday and closed-day factors and each class's hour shape
    /// (<see cref="CalendarTrendModel"/>), with a 10th–90th percentile band. The default.
    /// </summary>
    CalendarTrend,
    /// <summary>Hour by hour at the mean rate of the same weekday and local hour (with fallbacks): under a week of history.</summary>
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
    int UnitMinutes = 1,
    WorkCalendar? Calendar = null);

/// <summary>
/// Projects consumption from <c>now</c> to the period's end hour by hour (UTC hours, so DST days simply have 23 or
/// 25 of them), and interpolates the run-out instants inside the hour they fall in, which is exact for a constant rate.
/// The band's curves are <c>consumed + mean(t) ± z·sd(t)</c> with z the normal 90th percentile: sd(t) adds the level's
/// uncertainty (the same fraction of every hour ahead, so it adds up linearly), each day's own noise (independent
/// days, so it adds up in variance) and each week's (shared by its days, independent between weeks). Because consumption only grows, the run-out instant's 10th percentile is where
/// the 90th-percentile curve crosses the threshold, and its 90th where the 10th-percentile curve does.
/// Pure: the same inputs give the same forecast.
/// </summary>
public static class Forecaster
{
    /// <summary>The standard normal's 90th percentile: the band is the 10th–90th percentile range.</summary>
    public const double BandZ = 1.2815515655446004;

    /// <summary>
    /// The level's uncertainty, as a fraction, assumed when there is too little history to measure one (under a
    /// week): wide on purpose, since a few days tell little about a month.
    /// </summary>
    public const double ShortHistoryLevelSd = 0.3;

    /// <summary>
    /// The default forecast: the <see cref="CalendarTrendModel"/> learned from the input's history with its calendar
    /// (none: <see cref="WorkCalendar.None"/>); with under a week of history, the weekday-aware hourly profile.
    /// </summary>
    public static Forecast CalendarTrend(ForecastInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var calendar = input.Calendar ?? WorkCalendar.None;
        var model = CalendarTrendModel.Learn(input.History, input.HistoryStart, input.Now, input.TimeZone, calendar);
        if (model is null)
        {
            var profile = HourlyRateProfile.Learn(input.History, input.HistoryStart, input.Now, input.TimeZone, input.RecencyHalfLife);
            return WeekdayAware(input.ConsumedMinutes, input.Pool, input.Period, input.Now, profile, input.UnitMinutes, ShortHistoryLevelSd);
        }
        return CalendarTrend(input.ConsumedMinutes, input.Pool, input.Period, input.Now, model, input.UnitMinutes);
    }

    /// <summary>With a learned <paramref name="model"/>.</summary>
    public static Forecast CalendarTrend(long consumedMinutes, PoolTerms? pool, PeriodWindow period, DateTimeOffset now, CalendarTrendModel model, int unitMinutes = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Project(ForecastMethod.CalendarTrend, consumedMinutes, pool, period, now, unitMinutes, hour =>
        {
            var h = model.HourAt(hour);
            return new ProjectedRate(new HourlyRate(h.Minutes, RateSource.Slot), h.RelativeLevelSd, h.NoiseVariancePerMinute, h.Week, h.WeeklyNoise);
        }) with { Model = model.Description };
    }

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
    /// <paramref name="levelSd"/> is the band's assumed uncertainty of the rates, as a fraction (0: no band).
    /// </summary>
    public static Forecast WeekdayAware(long consumedMinutes, PoolTerms? pool, PeriodWindow period, DateTimeOffset now, HourlyRateProfile profile, int unitMinutes = 1, double levelSd = 0)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (profile.ObservedHours == 0)
        {
            var linear = LinearRate(consumedMinutes, period, now);
            return Project(ForecastMethod.WeekdayAware, consumedMinutes, pool, period, now, unitMinutes,
                _ => new ProjectedRate(new HourlyRate(linear, RateSource.PeriodLinear), levelSd, 0, 0, 0));
        }
        return Project(ForecastMethod.WeekdayAware, consumedMinutes, pool, period, now, unitMinutes, t => new ProjectedRate(profile.RateAt(t), levelSd, 0, 0, 0));
    }

    /// <summary>The baseline: <c>consumed + consumed ÷ elapsed × remaining</c>; with nothing elapsed, nothing is added. No band.</summary>
    public static Forecast Linear(long consumedMinutes, PoolTerms? pool, PeriodWindow period, DateTimeOffset now, int unitMinutes = 1)
    {
        var rate = LinearRate(consumedMinutes, period, now);
        return Project(ForecastMethod.Linear, consumedMinutes, pool, period, now, unitMinutes, _ => new ProjectedRate(new HourlyRate(rate, RateSource.PeriodLinear), 0, 0, 0, 0));
    }

    private static double LinearRate(long consumedMinutes, PeriodWindow period, DateTimeOffset now)
    {
        var elapsedHours = (period.Clamp(now) - period.Start).TotalHours;
        return elapsedHours > 0 ? consumedMinutes / elapsedHours : 0;
    }

    /// <summary>
    /// An hour's rate, the level's uncertainty as a fraction of it, its noise variance per projected minute, and its
    /// week with the week's own uncertainty as a fraction (see <see cref="HourProjection"/>).
    /// </summary>
    private readonly record struct ProjectedRate(HourlyRate Rate, double RelativeLevelSd, double NoiseVariancePerMinute, int Week, double WeeklyNoise);

    /// <summary>The first instant a rising curve reaches a threshold, found hour by hour.</summary>
    private sealed class CrossingFinder(double? threshold)
    {
        public DateTimeOffset? At { get; private set; }

        // Inside one hour the curve is taken as a straight line (exact for the mean at a constant rate).
        public void Step(double before, double after, DateTimeOffset hourFrom, DateTimeOffset hourTo)
        {
            if (At is not null || threshold is not { } x || after < x || after <= before)
            {
                return;
            }
            var fraction = Math.Clamp((x - before) / (after - before), 0, 1);
            At = hourFrom.AddTicks((long)Math.Round(fraction * (hourTo - hourFrom).Ticks)).ToUniversalTime();
        }
    }

    private static Forecast Project(
        ForecastMethod method, long consumedMinutes, PoolTerms? pool, PeriodWindow period, DateTimeOffset now, int unitMinutes,
        Func<DateTimeOffset, ProjectedRate> rateAt)
    {
        var t = period.Clamp(now);
        double? included = pool is null ? null : pool.IncludedMinutes;
        double? limit = pool is null || pool.Overage.Kind == OverageKind.Unlimited ? null : pool.LimitMinutes;
        var includedReached = Reached(consumedMinutes, included, unitMinutes, now);
        var limitReached = Reached(consumedMinutes, limit, unitMinutes, now);
        var weakest = RateSource.Slot;
        double mean = 0, levelSd = 0, noiseVariance = 0, pastWeeksVariance = 0, weekMinutes = 0;
        ProjectedRate? previous = null;
        var (includedMean, includedHigh, includedLow) = (new CrossingFinder(included), new CrossingFinder(included), new CrossingFinder(included));
        var (limitMean, limitHigh, limitLow) = (new CrossingFinder(limit), new CrossingFinder(limit), new CrossingFinder(limit));
        var (highBefore, lowBefore) = ((double)consumedMinutes, (double)consumedMinutes);

        while (t < period.End)
        {
            var next = new DateTimeOffset(Math.Min(HourlyRateProfile.FloorHour(t.UtcTicks) + TimeSpan.TicksPerHour, period.End.UtcTicks), TimeSpan.Zero);
            var projected = rateAt(t);
            weakest = projected.Rate.Source > weakest ? projected.Rate.Source : weakest;
            var added = Math.Max(0, projected.Rate.MinutesPerHour) * (next - t).TotalHours;
            var meanBefore = consumedMinutes + mean;
            mean += added;
            levelSd += added * projected.RelativeLevelSd;
            noiseVariance += added * projected.NoiseVariancePerMinute;
            if (previous is { } p && p.Week != projected.Week)
            {
                pastWeeksVariance += Math.Pow(weekMinutes * p.WeeklyNoise, 2);
                weekMinutes = 0;
            }
            weekMinutes += added;
            previous = projected;
            var weeksVariance = pastWeeksVariance + Math.Pow(weekMinutes * projected.WeeklyNoise, 2);
            var sd = Math.Sqrt((levelSd * levelSd) + noiseVariance + weeksVariance);
            var high = consumedMinutes + mean + (BandZ * sd);
            var low = Math.Max(lowBefore, consumedMinutes + mean - (BandZ * sd));
            includedMean.Step(meanBefore, consumedMinutes + mean, t, next);
            limitMean.Step(meanBefore, consumedMinutes + mean, t, next);
            includedHigh.Step(highBefore, high, t, next);
            limitHigh.Step(highBefore, high, t, next);
            includedLow.Step(lowBefore, low, t, next);
            limitLow.Step(lowBefore, low, t, next);
            (highBefore, lowBefore) = (high, low);
            t = next;
        }

        var total = consumedMinutes + mean;
        var cap = limit ?? double.PositiveInfinity;
        RunOut Settled(RunOut? reached, CrossingFinder crossing, double? threshold) =>
            Settle(reached ?? (crossing.At is { } at ? new RunOut(RunOutOutcome.Projected, at) : null), threshold, period);
        var band = new ForecastBand(lowBefore, Math.Max(highBefore, total),
            Settled(includedReached, includedHigh, included), Settled(includedReached, includedLow, included),
            Settled(limitReached, limitHigh, limit), Settled(limitReached, limitLow, limit));
        return new Forecast(method, now, period, consumedMinutes, total, Math.Min(total, cap),
            Settled(includedReached, includedMean, included), Settled(limitReached, limitMean, limit), weakest)
        {
            Band = band,
        };
    }

    private static RunOut? Reached(long consumed, double? threshold, int unitMinutes, DateTimeOffset now) =>
        threshold is { } x && IsReached(consumed, x, unitMinutes) ? new RunOut(RunOutOutcome.AlreadyReached, now) : null;

    /// <summary>
    /// Whether <paramref name="threshold"/> is reached at <paramref name="consumed"/> minutes: less than a unit is left,
    /// so the next unit cannot be granted under it. For the limit, users are locked out now, whatever the average rate
    /// says (integer minutes and a unit of 1 give plain consumed ≥ threshold).
    /// </summary>
    public static bool IsReached(long consumed, double threshold, int unitMinutes) => threshold - consumed < Math.Max(1, unitMinutes);

    // Reaching the threshold exactly as the period ends is not running out: the pool resets at that instant.
    private static RunOut Settle(RunOut? found, double? threshold, PeriodWindow period) =>
        found is { Outcome: RunOutOutcome.Projected, At: { } at } && at >= period.End ? RunOut.NotWithinPeriod
        : found ?? (threshold is null ? RunOut.Never : RunOut.NotWithinPeriod);
}
