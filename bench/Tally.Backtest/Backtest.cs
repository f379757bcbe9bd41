using Tally.Metering;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Backtest;

/// <summary>
/// The run's fixed frame: history from 1 March 2026 (local), evaluated months May and June 2026, cutoffs at the END of
/// local days 3, 7, 10, 14, 17, 21, 24 and 28 (the forecast is made at local midnight starting the next day, having
/// seen every unit that started before it).
/// </summary>
public sealed record BacktestSettings(int Users, int Seed)
{
    public static readonly DateOnly HistoryStart = new(2026, 3, 1);
    public static readonly DateOnly HistoryEnd = new(2026, 7, 1);
    public static IReadOnlyList<Period> EvaluatedMonths { get; } = [new(2026, 5), new(2026, 6)];
    public static IReadOnlyList<int> CutoffDays { get; } = [3, 7, 10, 14, 17, 21, 24, 28];

    /// <summary>Growth's included minutes: this share of its final month's total, so the pool runs out late in that month.</summary>
    public const double GrowthIncludedShare = 0.88;

    /// <summary>The other scenarios' included minutes: this much above their busiest month, so their pool never runs out.</summary>
    public const double HeadroomIncludedFactor = 1.25;

    public const int PackMinutes = 1000;

    public TimeZoneInfo Zone => GeneratorSettings.Paris;
}

/// <summary>One forecast at one cutoff, and the truth it is judged against.</summary>
public sealed record CutoffResult(
    string Scenario, Period Month, int Day, DateTimeOffset Cutoff, long ConsumedMinutes, long ActualMinutes,
    double TallyMinutes, double LowMinutes, double HighMinutes, double LinearMinutes, long LastMonthMinutes,
    RunOut TallyRunOut, RunOut EarliestRunOut, RunOut LatestRunOut, DateTimeOffset? ActualRunOut);

/// <summary>One scenario's metered history, its pool and its cutoffs.</summary>
public sealed record ScenarioResult(
    Scenario Scenario, long Events, int Units, long IncludedMinutes, IReadOnlyDictionary<Period, long> MonthMinutes,
    IReadOnlyDictionary<Period, DateTimeOffset?> ActualRunOuts, IReadOnlyList<CutoffResult> Cutoffs);

public static class Backtest
{
    /// <summary>Generates, meters and forecasts every scenario.</summary>
    public static IReadOnlyList<ScenarioResult> Run(BacktestSettings settings, IReadOnlyList<Scenario>? scenarios = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return (scenarios ?? Scenario.All).Select(s => RunScenario(settings, s)).ToList();
    }

    public static MeteredHistory MeterScenario(BacktestSettings settings, Scenario scenario)
    {
        var generator = new UsageGenerator(new GeneratorSettings(settings.Users, settings.Seed, settings.Zone, BacktestSettings.HistoryStart), scenario);
        return MeteredHistory.Meter(generator.Days(BacktestSettings.HistoryStart, BacktestSettings.HistoryEnd), settings.Zone);
    }

    public static ScenarioResult RunScenario(BacktestSettings settings, Scenario scenario)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(scenario);
        var history = MeterScenario(settings, scenario);
        var periods = new PeriodCalendar(settings.Zone);
        var months = new Dictionary<Period, long>();
        for (var p = new Period(2026, 3); p.CompareTo(new Period(2026, 6)) <= 0; p = p.Next)
        {
            var w = PeriodWindow.Of(periods, p);
            months[p] = history.MinutesBetween(w.Start.UtcTicks, w.End.UtcTicks);
        }
        var finalMonth = BacktestSettings.EvaluatedMonths[^1];
        var included = scenario.Kind == ScenarioKind.Growth
            ? (long)Math.Floor(months[finalMonth] * BacktestSettings.GrowthIncludedShare / BacktestSettings.PackMinutes) * BacktestSettings.PackMinutes
            : (long)Math.Ceiling(months.Values.Max() * BacktestSettings.HeadroomIncludedFactor / BacktestSettings.PackMinutes) * BacktestSettings.PackMinutes;
        var options = new MeterOptions
        {
            TimeZone = settings.Zone,
            UnitMinutes = MeterOptions.DefaultUnitMinutes,
            Pool = new PoolTerms(included, OverageAllowance.Unlimited),
        };
        var calendar = WorkCalendar.Create("FR", null).Value!;

        var runOuts = new Dictionary<Period, DateTimeOffset?>();
        var cutoffs = new List<CutoffResult>();
        foreach (var month in BacktestSettings.EvaluatedMonths)
        {
            var window = PeriodWindow.Of(periods, month);
            runOuts[month] = history.ReachedAt(window.Start.UtcTicks, window.End.UtcTicks, included);
            foreach (var day in BacktestSettings.CutoffDays)
            {
                var cutoff = LocalMidnight(new DateOnly(month.Year, month.Month, day).AddDays(1), settings.Zone);
                var figures = UsageMonitor.Compute(Source(history, month, window, cutoff), options, MonitoredPool.Always(included), month, cutoff, calendar);
                var consumed = history.MinutesBetween(window.Start.UtcTicks, cutoff.UtcTicks);
                var share = window.ElapsedShare(cutoff);
                var forecast = figures.Forecast;
                cutoffs.Add(new CutoffResult(scenario.Name, month, day, cutoff, consumed, months[month],
                    forecast.ProjectedDemandMinutes, forecast.Band.LowDemandMinutes, forecast.Band.HighDemandMinutes,
                    share > 0 ? consumed / share : 0, months[Period.FromIndex(month.Index - 1)],
                    forecast.IncludedRunOut, forecast.Band.IncludedEarliest, forecast.Band.IncludedLatest, runOuts[month]));
            }
        }
        return new ScenarioResult(scenario, history.Events, history.Units, included, months, runOuts, cutoffs);
    }

    /// <summary>
    /// What the server's ledger (or <c>tally report FILE</c>, ReportCommand.FromFile) would hold at <paramref name="cutoff"/>:
    /// the period's units that started before it, the first event's instant, and hourly pool minutes of units that
    /// started before it. Nothing from after the cutoff can leak into the forecast.
    /// </summary>
    public static MonitorSource Source(MeteredHistory history, Period month, PeriodWindow window, DateTimeOffset cutoff)
    {
        ArgumentNullException.ThrowIfNull(history);
        var to = cutoff.UtcTicks;
        var usage = new PeriodUsage(month.ToString(), history.UnitsBetween(window.Start.UtcTicks, to), history.MinutesBetween(window.Start.UtcTicks, to), 0, 0);
        return new MonitorSource(usage, history.FirstEventTicks, (from, until) => history.Hourly(from, Math.Min(until, to)));
    }

    public static DateTimeOffset LocalMidnight(DateOnly day, TimeZoneInfo zone) =>
        new(TimeZoneInfo.ConvertTimeToUtc(day.ToDateTime(TimeOnly.MinValue), zone), TimeSpan.Zero);
}
