using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Monitoring;

/// <summary>The run-rate and forecast of one tenant's period, with what they were computed from.</summary>
public sealed record MonitorFigures(
    Period Period, PeriodWindow Window, DateTimeOffset Now, PeriodUsage Usage, RunRate? RunRate, Forecast Forecast,
    DateTimeOffset HistoryStart, int HistoryHours, LicenseCoverage Coverage);

/// <summary>Whether a period has a pool: the tenant has no license, or one whose validity reaches into the period, or one that does not.</summary>
public enum LicenseCoverage
{
    None,
    Covered,
    Outside,
}

/// <summary>
/// Feeds the pure monitoring math (<see cref="RunRate"/>, <see cref="Forecaster"/>) from the ledger: the period's pool
/// minutes, and hourly pool minutes over the trailing <see cref="HistoryDays"/> days, never from before the tenant's
/// first event (an hour inside the window without units counts as zero, so the window must not reach back before the
/// data begins). The summary endpoint, the CLI and the alert evaluator all call this, so they agree.
/// </summary>
public static class UsageMonitor
{
    public const int HistoryDays = 28;

    public static MonitorFigures Compute(ILedgerStore store, string tenant, TenantConfig config, Period period, DateTimeOffset clock)
    {
        var options = config.MeterOptions;
        var calendar = new PeriodCalendar(options.TimeZone);
        var window = PeriodWindow.Of(calendar, period);
        // A past period is seen from its end, a future one from its start: nothing is projected outside the period.
        var now = window.Clamp(clock);
        var usage = store.PeriodUsage(tenant, period.ToString());
        var coverage = CoverageOf(config, window);
        // A month the license does not reach into had no pool: nothing to pace against, nothing to run out.
        var license = coverage == LicenseCoverage.Covered ? config.License : null;
        RunRate? runRate = license is not null ? RunRate.Compute(usage.Minutes, license.IncludedMinutes, window, now) : null;

        var historyStart = now.AddDays(-HistoryDays);
        if (store.FirstEventTicks(tenant) is { } first && first > historyStart.UtcTicks)
        {
            historyStart = new DateTimeOffset(first, TimeSpan.Zero);
        }
        if (historyStart > now)
        {
            historyStart = now;
        }
        var history = store.HourlyPoolMinutes(tenant, historyStart.UtcTicks, now.UtcTicks)
            .Select(h => new HourlyUsage(new DateTimeOffset(h.HourStartTicks, TimeSpan.Zero), h.Minutes))
            .ToList();
        var profile = HourlyRateProfile.Learn(history, historyStart, now, options.TimeZone);
        var forecast = Forecaster.WeekdayAware(usage.Minutes, license is not null ? options.Pool : null, window, now, profile);
        return new MonitorFigures(period, window, now, usage, runRate, forecast, historyStart, profile.ObservedHours, coverage);
    }

    /// <summary>
    /// Covered when the license's validity [ValidFrom, ValidTo) overlaps the period at all: a license that starts or ends
    /// inside a month governs that month's pool while it is valid, as the meter applies it.
    /// </summary>
    public static LicenseCoverage CoverageOf(TenantConfig config, PeriodWindow window) => config.License switch
    {
        null => LicenseCoverage.None,
        { } l when l.ValidFrom < window.End && l.ValidTo > window.Start => LicenseCoverage.Covered,
        _ => LicenseCoverage.Outside,
    };

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
    public static object? RunRateView(MonitorFigures f) => f.RunRate is not { } r ? null : new
    {
        elapsedShare = r.ElapsedShare,
        expectedMinutes = r.ExpectedMinutes,
        deltaMinutes = r.DeltaMinutes,
        deltaPercent = r.DeltaPercent,
        status = r.Status.ToWire(),
    };

    /// <summary>The summary's <c>forecast</c> object. Run-out instants are null unless already reached or projected inside the period.</summary>
    public static object ForecastView(MonitorFigures f) => new
    {
        method = f.Forecast.Method == ForecastMethod.WeekdayAware ? "weekday-aware" : "linear",
        asOf = f.Now,
        projectedMinutes = f.Forecast.ProjectedMinutes,
        projectedDemandMinutes = f.Forecast.ProjectedDemandMinutes,
        includedRunOut = f.Forecast.IncludedRunOut.At,
        includedRunOutOutcome = f.Forecast.IncludedRunOut.Outcome.ToWire(),
        limitRunOut = f.Forecast.LimitRunOut.At,
        limitRunOutOutcome = f.Forecast.LimitRunOut.Outcome.ToWire(),
        rateSource = f.Forecast.WeakestSource.ToWire(),
        historyStart = f.HistoryStart,
        historyHours = f.HistoryHours,
    };
}
