using System.Text;
using System.Text.Json;
using Tally.Metering;
using static System.FormattableString;

namespace Tally.Backtest;

/// <summary>A forecasting method the backtest scores.</summary>
public enum Method
{
    Tally,
    Linear,
    LastMonth,
}

/// <summary>A run-out forecast at a cutoff before the actual run-out: signed error in hours (forecast − actual), null when Tally saw none inside the month.</summary>
public sealed record RunOutError(string Scenario, string Month, int Day, DateTimeOffset Actual, RunOut Forecast, double? ErrorHours, bool InBand);

/// <summary>One target of issue 16 and whether this run meets it.</summary>
public sealed record TargetCheck(string Name, bool Pass, string Detail);

/// <summary>The scores of a run: the machine-readable summary is this record as JSON.</summary>
public sealed record BacktestSummary(
    int Seed, int Users, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> MapeByScenario,
    IReadOnlyDictionary<string, double> MapeOverall, IReadOnlyDictionary<int, IReadOnlyDictionary<string, double>> MapeByCutoffDay,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> MapeByScenarioOnIssueDays, IReadOnlyDictionary<string, double> MapeOverallOnIssueDays,
    IReadOnlyList<RunOutError> RunOuts, double TotalBandCoverage, double? RunOutBandCoverage, IReadOnlyList<TargetCheck> Targets)
{
    public bool AllPass => Targets.All(t => t.Pass);

    public static BacktestSummary Of(BacktestSettings settings, IReadOnlyList<ScenarioResult> results)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(results);
        var rows = results.SelectMany(r => r.Cutoffs).ToList();
        var byScenario = results.ToDictionary(r => r.Scenario.Name, r => Mapes(r.Cutoffs));
        var overall = Mapes(rows);
        var byDay = BacktestSettings.CutoffDays.ToDictionary(d => d, d => Mapes(rows.Where(r => r.Day == d).ToList()));
        // The cutoffs issue 16 measured the old forecaster at, so its table and this one compare like with like.
        var issueRows = rows.Where(r => IssueDays.Contains(r.Day)).ToList();
        var byScenarioOnIssueDays = results.ToDictionary(r => r.Scenario.Name, r => Mapes(r.Cutoffs.Where(c => IssueDays.Contains(c.Day)).ToList()));
        var overallOnIssueDays = Mapes(issueRows);
        var runOuts = rows.Where(r => r.ActualRunOut is { } actual && r.Cutoff < actual).Select(RunOutErrorOf).ToList();
        var totalCoverage = rows.Count(r => r.LowMinutes <= r.ActualMinutes && r.ActualMinutes <= r.HighMinutes) / (double)rows.Count;
        double? runOutCoverage = runOuts.Count == 0 ? null : runOuts.Count(r => r.InBand) / (double)runOuts.Count;
        return new BacktestSummary(settings.Seed, settings.Users, byScenario, overall, byDay, byScenarioOnIssueDays, overallOnIssueDays, runOuts,
            totalCoverage, runOutCoverage,
            [.. CheckTargets(results, byScenario, overall, runOuts, ""), .. CheckTargets([], byScenarioOnIssueDays, overallOnIssueDays, [], " (days 7, 14, 21)")]);
    }

    private static IReadOnlyDictionary<string, double> Mapes(IReadOnlyList<CutoffResult> rows) =>
        Enum.GetValues<Method>().ToDictionary(m => m.ToString(), m => rows.Count == 0 ? double.NaN : rows.Average(r => AbsolutePercentError(r, m)));

    /// <summary>The cutoff days of issue 16's own measurement.</summary>
    public static readonly int[] IssueDays = [7, 14, 21];

    public static double Forecast(CutoffResult row, Method method) => method switch
    {
        Method.Tally => row.TallyMinutes,
        Method.Linear => row.LinearMinutes,
        _ => row.LastMonthMinutes,
    };

    public static double AbsolutePercentError(CutoffResult row, Method method) =>
        100 * Math.Abs(Forecast(row, method) - row.ActualMinutes) / row.ActualMinutes;

    private static RunOutError RunOutErrorOf(CutoffResult row)
    {
        var actual = row.ActualRunOut!.Value;
        double? error = row.TallyRunOut.At is { } at ? (at - actual).TotalHours : null;
        return new RunOutError(row.Scenario, row.Month.ToString(), row.Day, actual, row.TallyRunOut, error, InBand(actual, row.EarliestRunOut, row.LatestRunOut));
    }

    /// <summary>Within [Earliest, Latest]; a latest bound past the month is no upper bound, an earliest one past it excludes every in-month run-out.</summary>
    private static bool InBand(DateTimeOffset actual, RunOut earliest, RunOut latest)
    {
        var afterEarliest = earliest.At is { } e && actual >= e;
        var beforeLatest = latest.Outcome == RunOutOutcome.NotWithinPeriod || (latest.At is { } l && actual <= l);
        return afterEarliest && beforeLatest;
    }

    private static List<TargetCheck> CheckTargets(
        IReadOnlyList<ScenarioResult> results, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> byScenario,
        IReadOnlyDictionary<string, double> overall, IReadOnlyList<RunOutError> runOuts, string subset)
    {
        var tally = nameof(Method.Tally);
        var linear = nameof(Method.Linear);
        var checks = new List<TargetCheck>
        {
            new($"overall Tally MAPE ≤ 0.7 × linear's{subset}", overall[tally] <= 0.7 * overall[linear],
                Invariant($"Tally {overall[tally]:0.00} %, 0.7 × linear {0.7 * overall[linear]:0.00} %")),
        };
        foreach (var (scenario, mapes) in byScenario)
        {
            checks.Add(new($"{scenario}: Tally MAPE ≤ linear's{subset}", mapes[tally] <= mapes[linear],
                Invariant($"Tally {mapes[tally]:0.00} %, linear {mapes[linear]:0.00} %")));
        }
        foreach (var result in results.Where(r => r.Scenario.Kind == ScenarioKind.Growth))
        {
            var month = result.ActualRunOuts.Where(kv => kv.Value is not null).Select(kv => (Period?)kv.Key).LastOrDefault();
            if (month is null)
            {
                checks.Add(new($"{result.Scenario.Name}: included minutes run out in an evaluated month", false,
                    "they never did: the backtest's pool is mis-sized, not the forecaster"));
                continue;
            }
            foreach (var (day, bound) in new[] { (7, 48.0), (14, 12.0) })
            {
                var row = runOuts.FirstOrDefault(r => r.Scenario == result.Scenario.Name && r.Month == month.ToString() && r.Day == day);
                var name = Invariant($"{result.Scenario.Name}: run-out |error| ≤ {bound:0} h at day {day} of {month}");
                checks.Add(row switch
                {
                    null => new(name, false, "the cutoff is not before the actual run-out"),
                    { ErrorHours: { } h } => new(name, Math.Abs(h) <= bound, Invariant($"error {h:+0.0;-0.0;0} h")),
                    _ => new(name, false, Invariant($"Tally projects no run-out in {month} ({row.Forecast.Outcome}); actual {Local(row.Actual)}")),
                });
            }
        }
        return checks;
    }

    public static string Local(DateTimeOffset instant) =>
        TimeZoneInfo.ConvertTime(instant, GeneratorSettings.Paris).ToString("MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Writes the markdown report.</summary>
public static class BacktestReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public static string Markdown(BacktestSettings settings, IReadOnlyList<ScenarioResult> results, BacktestSummary summary, DateTimeOffset runAt, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(summary);
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(Invariant(text));
        var methods = Enum.GetValues<Method>();
        void ScenarioTable(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> byScenario, IReadOnlyDictionary<string, double> overall)
        {
            Line($"| scenario | {string.Join(" | ", methods)} |");
            Line($"|---|{string.Concat(methods.Select(_ => "--:|"))}");
            foreach (var (scenario, mapes) in byScenario)
            {
                Line($"| {scenario} | {string.Join(" | ", methods.Select(m => Invariant($"{mapes[m.ToString()]:0.00}")))} |");
            }
            Line($"| **overall** | {string.Join(" | ", methods.Select(m => Invariant($"**{overall[m.ToString()]:0.00}**")))} |");
            Line($"");
        }

        Line($"# Forecast backtest");
        Line($"");
        Line($"- seed **{settings.Seed}**, **{settings.Users:N0}** users (step adds {Scenario.StepShare:P0} on {Scenario.StepFirst:yyyy-MM-dd}), run {runAt:yyyy-MM-dd HH:mm} UTC in {elapsed.TotalSeconds:0.0} s");
        Line($"- history {BacktestSettings.HistoryStart:yyyy-MM-dd} to {BacktestSettings.HistoryEnd:yyyy-MM-dd} (local, Europe/Paris), French public holidays, six-minute units metered by the real meter, overage unlimited");
        Line($"- evaluated months {string.Join(", ", BacktestSettings.EvaluatedMonths)}; cutoffs at the **end** of local days {string.Join(", ", BacktestSettings.CutoffDays)} (the forecast is made at local midnight starting the next day)");
        Line($"- baselines: linear = consumed ÷ elapsed share of the month; last month = the previous month's total");
        Line($"");
        Line($"## Scenarios");
        Line($"");
        Line($"| scenario | events | units | Mar | Apr | May | Jun | included | actual run-out (local) |");
        Line($"|---|--:|--:|--:|--:|--:|--:|--:|---|");
        foreach (var r in results)
        {
            var m = r.MonthMinutes.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToList();
            var runOut = string.Join(", ", r.ActualRunOuts.Where(kv => kv.Value is not null).Select(kv => BacktestSummary.Local(kv.Value!.Value)));
            Line($"| {r.Scenario.Name} | {r.Events:N0} | {r.Units:N0} | {m[0]:N0} | {m[1]:N0} | {m[2]:N0} | {m[3]:N0} | {r.IncludedMinutes:N0} | {(runOut.Length == 0 ? "none" : runOut)} |");
        }
        Line($"");
        Line($"## MAPE of the month-end total (%)");
        Line($"");
        ScenarioTable(summary.MapeByScenario, summary.MapeOverall);
        Line($"### At the cutoffs of issue 16 only (days 7, 14, 21)");
        Line($"");
        ScenarioTable(summary.MapeByScenarioOnIssueDays, summary.MapeOverallOnIssueDays);
        Line($"### By cutoff day (all scenarios, both months)");
        Line($"");
        Line($"| day | {string.Join(" | ", methods)} |");
        Line($"|--:|{string.Concat(methods.Select(_ => "--:|"))}");
        foreach (var (day, mapes) in summary.MapeByCutoffDay)
        {
            Line($"| {day} | {string.Join(" | ", methods.Select(m => Invariant($"{mapes[m.ToString()]:0.00}")))} |");
        }
        Line($"");
        Line($"## Run-out (scenarios whose included minutes run out inside the month)");
        Line($"");
        if (summary.RunOuts.Count == 0)
        {
            Line($"No scenario ran out inside an evaluated month.");
        }
        else
        {
            Line($"| scenario | month | cutoff day | actual | Tally | error h | abs h | band earliest | band latest | in band |");
            Line($"|---|---|--:|---|---|--:|--:|---|---|---|");
            foreach (var e in summary.RunOuts)
            {
                var row = results.SelectMany(r => r.Cutoffs).Single(c => c.Scenario == e.Scenario && c.Month.ToString() == e.Month && c.Day == e.Day);
                Line($"| {e.Scenario} | {e.Month} | {e.Day} | {BacktestSummary.Local(e.Actual)} | {Describe(e.Forecast)} | {(e.ErrorHours is { } h ? Invariant($"{h:+0.0;-0.0;0}") : "—")} | {(e.ErrorHours is { } a ? Invariant($"{Math.Abs(a):0.0}") : "—")} | {Describe(row.EarliestRunOut)} | {Describe(row.LatestRunOut)} | {(e.InBand ? "yes" : "no")} |");
            }
        }
        Line($"");
        Line($"## 10–90 band coverage");
        Line($"");
        Line($"- actual month-end totals within [Low, High]: **{summary.TotalBandCoverage:P0}** (ideal about 80 %)");
        Line($"- actual run-outs within [Earliest, Latest]: **{(summary.RunOutBandCoverage is { } covered ? Invariant($"{covered:P0}") : "n/a")}**");
        Line($"");
        Line($"## Every cutoff");
        Line($"");
        Line($"| scenario | month | day | so far | actual | Tally | low | high | linear | last month |");
        Line($"|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var c in results.SelectMany(r => r.Cutoffs))
        {
            Line($"| {c.Scenario} | {c.Month} | {c.Day} | {c.ConsumedMinutes:N0} | {c.ActualMinutes:N0} | {c.TallyMinutes:N0} | {c.LowMinutes:N0} | {c.HighMinutes:N0} | {c.LinearMinutes:N0} | {c.LastMonthMinutes:N0} |");
        }
        Line($"");
        Line($"## Targets");
        Line($"");
        foreach (var t in summary.Targets)
        {
            Line($"- **{(t.Pass ? "PASS" : "MISS")}** {t.Name}: {t.Detail}");
        }
        Line($"");
        Line($"## Summary (machine-readable)");
        Line($"");
        md.AppendLine("```json");
        md.AppendLine(JsonSerializer.Serialize(summary, Json));
        md.AppendLine("```");
        return md.ToString();
    }

    private static string Describe(RunOut runOut) => runOut.Outcome switch
    {
        RunOutOutcome.Projected => BacktestSummary.Local(runOut.At!.Value),
        RunOutOutcome.AlreadyReached => "reached " + BacktestSummary.Local(runOut.At!.Value),
        RunOutOutcome.NotWithinPeriod => "not in month",
        _ => "never",
    };
}
