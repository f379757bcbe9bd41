using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Monitoring;

/// <summary>
/// The run-rate and forecast of one tenant's period, with what they were computed from. <see cref="IncludedMinutes"/>
/// and <see cref="LimitMinutes"/> are the pool the period is paced against: null for a period no license covers (and
/// the limit null when overage is unlimited), so the summary, the alerts and <c>tally report</c> claim the same pool.
/// </summary>
public sealed record MonitorFigures(
    Period Period, PeriodWindow Window, DateTimeOffset Now, PeriodUsage Usage, RunRate? RunRate, Forecast Forecast,
    DateTimeOffset HistoryStart, int HistoryHours, LicenseCoverage Coverage, long? IncludedMinutes, long? LimitMinutes, WorkCalendar Calendar)
{
    /// <summary>Covered by a license whose overage is unlimited: no limit, but not "no pool" either.</summary>
    public bool Unlimited => Coverage == LicenseCoverage.Covered && LimitMinutes is null;
}

/// <summary>Whether a period has a pool: the tenant has no license, or one whose validity reaches into the period, or one that does not.</summary>
public enum LicenseCoverage
{
    None,
    Covered,
    Outside,
}

/// <summary>
/// The pool another license service reports for an observing tenant (R13): its included minutes, its overage (null: none
/// known; <see cref="long.MaxValue"/>: unlimited), its validity where the source tells it, and the source's license as read.
/// </summary>
public sealed record ObservedPool(long IncludedMinutes, long? OverageMinutes, DateTimeOffset? ValidFrom, DateTimeOffset? ValidTo, Tally.Import.ObservedLicense Source)
{
    public PoolTerms Terms => new(IncludedMinutes, OverageMinutes switch
    {
        null or 0 => OverageAllowance.None,
        long.MaxValue => OverageAllowance.Unlimited,
        var cap => OverageAllowance.Capped(cap.Value),
    });

    public MonitoredPool Monitored => new(IncludedMinutes, ValidFrom ?? DateTimeOffset.MinValue, ValidTo ?? DateTimeOffset.MaxValue);

    /// <summary>The pool of a source's license, or null when it reports no included minutes.</summary>
    public static ObservedPool? From(Tally.Import.ObservedLicense? license) =>
        license is { IncludedMinutes: { } included and >= 0 }
            ? new ObservedPool(included, license.OverageMinutes is -1 ? long.MaxValue : license.OverageMinutes is { } o and >= 0 ? o : null, license.ValidFrom,
                license.ValidTo, license)
            : null;
}

/// <summary>
/// The pool a period is paced against: included minutes, governing the months its validity [ValidFrom, ValidTo) reaches
/// into at all (a license that starts or ends inside a month governs that month's pool while it is valid, as the meter
/// applies it). Terms given on the command line have no validity limits.
/// </summary>
public sealed record MonitoredPool(long IncludedMinutes, DateTimeOffset ValidFrom, DateTimeOffset ValidTo)
{
    public static MonitoredPool Always(long includedMinutes) => new(includedMinutes, DateTimeOffset.MinValue, DateTimeOffset.MaxValue);
}

/// <summary>
/// The usage a period's figures are computed from: the period's totals, the first event's instant (null: none yet),
/// and pool minutes per UTC hour over <c>[from, to)</c> ticks.
/// </summary>
public sealed record MonitorSource(PeriodUsage Usage, long? FirstEventTicks, Func<long, long, IReadOnlyList<HourlyMinutes>> HourlyPoolMinutes);

/// <summary>
/// Feeds the pure monitoring math (<see cref="RunRate"/>, <see cref="Forecaster"/>) from the ledger: the period's pool
/// minutes, and hourly pool minutes over the trailing <see cref="HistoryDays"/> days, never from before the tenant's
/// first event (an hour inside the window without units counts as zero, so the window must not reach back before the
/// data begins). The summary endpoint, the CLI and the alert evaluator all call this, so they agree.
/// </summary>
public static class UsageMonitor
{
    public const int HistoryDays = 56;

    /// <summary>
    /// The figures of a tenant's period from the ledger. The pool is the one its source reports when the tenant observes
    /// one that has a pool (<paramref name="observed"/>, R13), otherwise its Tally license's. <paramref name="calendar"/>
    /// is the tenant's working calendar; null: the public holidays of its license's zone (<see cref="DefaultCalendar"/>).
    /// </summary>
    public static MonitorFigures Compute(
        IUsageReports store, string tenant, TenantConfig config, Period period, DateTimeOffset clock, ObservedPool? observed = null, WorkCalendar? calendar = null) =>
        Compute(new MonitorSource(
                store.PeriodUsage(tenant, period.ToString()),
                store.FirstEventTicks(tenant),
                (from, to) => store.HourlyPoolMinutes(tenant, from, to)),
            observed is null ? config.MeterOptions : config.MeterOptions with { Pool = observed.Terms },
            observed is { } source ? source.Monitored
                : config.License is { } license ? new MonitoredPool(license.IncludedMinutes, license.ValidFrom, license.ValidTo) : null,
            period, clock, calendar);

    /// <summary>A tenant's calendar when it chose none: the public holidays of the country its zone is in, if known.</summary>
    public static WorkCalendar DefaultCalendar(TimeZoneInfo zone) =>
        WorkCalendar.CountryOfZone(zone) is { } country && WorkCalendar.Create(country, null) is { IsOk: true } made ? made.Value : WorkCalendar.None;

    /// <summary>
    /// The same figures from any source of usage: the ledger (the server) or a metered event log (<c>tally report FILE</c>),
    /// so both reach the same verdicts. <paramref name="pool"/> null means no run-rate (nothing to pace against), and so
    /// does a period outside its validity.
    /// </summary>
    public static MonitorFigures Compute(MonitorSource source, MeterOptions options, MonitoredPool? pool, Period period, DateTimeOffset clock, WorkCalendar? calendar = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        var workCalendar = calendar ?? DefaultCalendar(options.TimeZone);
        var window = PeriodWindow.Of(new PeriodCalendar(options.TimeZone), period);
        // A past period is seen from its end, a future one from its start: nothing is projected outside the period.
        var now = window.Clamp(clock);
        var usage = source.Usage;
        var coverage = pool is null ? LicenseCoverage.None
            : pool.ValidFrom < window.End && pool.ValidTo > window.Start ? LicenseCoverage.Covered
            : LicenseCoverage.Outside;
        // A month the license does not reach into had no pool: nothing to pace against, nothing to run out.
        var covered = coverage == LicenseCoverage.Covered;

        var historyStart = now.AddDays(-HistoryDays);
        if (source.FirstEventTicks is { } first && first > historyStart.UtcTicks)
        {
            historyStart = new DateTimeOffset(first, TimeSpan.Zero);
        }
        if (historyStart > now)
        {
            historyStart = now;
        }
        var history = source.HourlyPoolMinutes(historyStart.UtcTicks, now.UtcTicks)
            .Select(h => new HourlyUsage(new DateTimeOffset(h.HourStartTicks, TimeSpan.Zero), h.Minutes))
            .ToList();
        var forecast = Forecaster.CalendarTrend(new ForecastInput(
            usage.Minutes, covered ? options.Pool : null, window, now, history, historyStart, options.TimeZone, UnitMinutes: options.UnitMinutes, Calendar: workCalendar));
        var historyHours = (int)Math.Max(0, (HourlyRateProfile.FloorHour(now.UtcTicks) - HourlyRateProfile.CeilHour(historyStart.UtcTicks)) / TimeSpan.TicksPerHour);
        var exhausted = forecast.LimitRunOut.Outcome == RunOutOutcome.AlreadyReached;
        RunRate? runRate = covered && pool is { } paced
            ? RunRate.Compute(usage.Minutes, paced.IncludedMinutes, window, now, RunRateTolerance.Default, exhausted)
            : null;
        var included = covered ? pool?.IncludedMinutes : null;
        var limit = covered && options.Pool is { LimitMinutes: var l } && l != long.MaxValue ? l : (long?)null;
        return new MonitorFigures(period, window, now, usage, runRate, forecast, historyStart, historyHours, coverage, included, limit,
            workCalendar);
    }

    public static string ToWire(this LicenseCoverage coverage) => coverage switch
    {
        LicenseCoverage.Covered => "covered",
        LicenseCoverage.Outside => "outside",
        _ => "none",
    };

    public static string ToWire(this RunRateStatus status) => status switch
    {
        RunRateStatus.Ahead => "ahead",
        RunRateStatus.Behind => "behind",
        _ => "on-track",
    };

    public static string ToWire(this RunOutOutcome outcome) => outcome switch
    {
        RunOutOutcome.AlreadyReached => "already-reached",
        RunOutOutcome.Projected => "projected",
        RunOutOutcome.NotWithinPeriod => "not-within-period",
        _ => "never",
    };

    public static string ToWire(this ForecastMethod method) => method switch
    {
        ForecastMethod.CalendarTrend => "calendar-trend",
        ForecastMethod.WeekdayAware => "weekday-aware",
        _ => "linear",
    };

    public static string ToWire(this RateSource source) => source switch
    {
        RateSource.Slot => "slot",
        RateSource.DayClassHour => "day-class-hour",
        RateSource.HourOfDay => "hour-of-day",
        RateSource.Overall => "overall",
        RateSource.PeriodLinear => "period-linear",
        _ => "none",
    };

    /// <summary>The summary's <c>runRate</c> object, or null without a license (no included minutes to pace against).</summary>
    public static RunRateView? RunRateView(MonitorFigures f) => f.RunRate is not { } r ? null : new(
        WireNumber.Share(r.ElapsedShare),
        WireNumber.Minutes(r.ExpectedMinutes),
        WireNumber.Minutes(r.DeltaMinutes),
        r.DeltaPercent is { } percent ? WireNumber.Percent(percent) : null,
        r.Status.ToWire());

    /// <summary>The summary's <c>forecast</c> object. Run-out instants are null unless already reached or projected inside the period.</summary>
    public static ForecastView ForecastView(MonitorFigures f) => new(
        f.Forecast.Method.ToWire(),
        f.Now,
        WireNumber.Minutes(f.Forecast.ProjectedMinutes),
        WireNumber.Minutes(f.Forecast.ProjectedDemandMinutes),
        f.Forecast.IncludedRunOut.At,
        f.Forecast.IncludedRunOut.Outcome.ToWire(),
        f.Forecast.LimitRunOut.At,
        f.Forecast.LimitRunOut.Outcome.ToWire(),
        f.Forecast.WeakestSource.ToWire(),
        f.HistoryStart,
        f.HistoryHours,
        new ForecastRangeView(
            WireNumber.Minutes(f.Forecast.Band.LowDemandMinutes),
            WireNumber.Minutes(f.Forecast.Band.HighDemandMinutes),
            f.Forecast.Band.IncludedEarliest.At, f.Forecast.Band.IncludedEarliest.Outcome.ToWire(),
            f.Forecast.Band.IncludedLatest.At, f.Forecast.Band.IncludedLatest.Outcome.ToWire(),
            f.Forecast.Band.LimitEarliest.At, f.Forecast.Band.LimitEarliest.Outcome.ToWire(),
            f.Forecast.Band.LimitLatest.At, f.Forecast.Band.LimitLatest.Outcome.ToWire()),
        f.Forecast.Model is { } m
            ? new ForecastModelView(WireNumber.Minutes(m.WorkingDayLevel), WireNumber.Percent(m.TrendPerWeek * 100), m.LevelShiftDay, m.HistoryDays,
                m.Calendar.Country, m.Calendar.ClosureDays.Count)
            : new ForecastModelView(0, 0, null, (int)Math.Ceiling(f.HistoryHours / 24.0), f.Calendar.Country, f.Calendar.ClosureDays.Count));
}
