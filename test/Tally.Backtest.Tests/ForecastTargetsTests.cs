namespace Tally.Backtest.Tests;

/// <summary>
/// Issue 16's targets for the forecaster, judged by the full backtest (3,000 users, the report's seed, about ten
/// seconds): the same numbers `dotnet run --project bench/Tally.Backtest -c Release` prints.
/// </summary>
public sealed class ForecastTargetsTests
{
    private static readonly BacktestSettings Settings = new(3000, 20261130);
    private static readonly Lazy<(IReadOnlyList<ScenarioResult> Results, BacktestSummary Summary)> Run = new(() =>
    {
        var results = Backtest.Run(Settings);
        return (results, BacktestSummary.Of(Settings, results));
    });

    /// <summary>The instrument itself is sound, so a missed target below is the forecaster's, not the backtest's.</summary>
    [Fact]
    [Trait("Category", "Backtest")]
    public void The_backtest_has_every_scenario_and_growth_runs_out_late_in_June()
    {
        var (results, _) = Run.Value;

        Assert.Equal(["steady", "growth", "spike", "step"], results.Select(r => r.Scenario.Name));
        Assert.All(results, r => Assert.Equal(BacktestSettings.EvaluatedMonths.Count * BacktestSettings.CutoffDays.Count, r.Cutoffs.Count));
        var growth = results.Single(r => r.Scenario.Kind == ScenarioKind.Growth);
        Assert.Null(growth.ActualRunOuts[new(2026, 5)]);
        Assert.InRange(growth.ActualRunOuts[new(2026, 6)]!.Value, Backtest.LocalMidnight(new(2026, 6, 20), GeneratorSettings.Paris),
            Backtest.LocalMidnight(new(2026, 7, 1), GeneratorSettings.Paris));
        Assert.All(results.Where(r => r.Scenario.Kind != ScenarioKind.Growth), r => Assert.All(r.ActualRunOuts.Values, Assert.Null));
    }

    [Fact]
    [Trait("Category", "Backtest")]
    public void The_forecaster_meets_the_targets_of_issue_16()
    {
        var (_, summary) = Run.Value;

        var missed = summary.Targets.Where(t => !t.Pass).Select(t => $"MISS {t.Name}: {t.Detail}").ToList();
        Assert.True(missed.Count == 0, string.Join(Environment.NewLine, missed));
    }
}
