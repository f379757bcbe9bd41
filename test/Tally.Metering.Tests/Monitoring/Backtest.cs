using System.Globalization;
using System.Text;

namespace Tally.Metering.Tests.Monitoring;

/// <summary>One method's mean absolute percentage error at each cutoff and over all of them.</summary>
internal sealed record BacktestRow(UsageShape Shape, string Method, double Day7, double Day14, double Day21, double All);

/// <summary>
/// Replays generated months: at the end of local days 7, 14 and 21 it forecasts the month's total from what came
/// before (a 28-day trailing window) and compares with what the month really added up to.
/// </summary>
internal static class Backtest
{
    public static readonly int[] CutoffDays = [7, 14, 21];
    public static readonly int[] Seeds = [1, 2, 3];
    public const int Year = 2026;
    public static readonly TimeZoneInfo Zone = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    private static readonly (string Name, Func<ForecastInput, double> Forecast)[] Methods =
    [
        ("calendar-trend", i => Forecaster.CalendarTrend(i).ProjectedDemandMinutes),
        ("weekday-aware", i => Forecaster.WeekdayAware(i).ProjectedDemandMinutes),
        ("weekday-aware, 7-day half-life", i => Forecaster.WeekdayAware(i with { RecencyHalfLife = TimeSpan.FromDays(7) }).ProjectedDemandMinutes),
        ("linear", i => Forecaster.Linear(i.ConsumedMinutes, i.Pool, i.Period, i.Now).ProjectedDemandMinutes),
    ];

    public const string OracleName = "oracle (true mean rates)";

    /// <summary>
    /// Knows the generator's noise-free rates, so its error is only the noise still to come: the floor no method
    /// that learns from the past can beat on average.
    /// </summary>
    private static double Oracle(UsageShape shape, PeriodWindow period, DateTimeOffset now, long consumed)
    {
        double total = consumed;
        for (var t = now; t < period.End; t = t.AddHours(1))
        {
            total += SyntheticUsage.ExpectedMinutes(shape, period, Zone, t);
        }
        return total;
    }

    public static IReadOnlyList<BacktestRow> Run()
    {
        var calendar = new PeriodCalendar(Zone);
        var rows = new List<BacktestRow>();
        foreach (var shape in Enum.GetValues<UsageShape>())
        {
            // errors[method][cutoff] collects absolute percentage errors over 12 months × 3 seeds.
            // The last row is the oracle.
            var errors = Methods.Append(default).Select(_ => CutoffDays.Select(_ => new List<double>()).ToArray()).ToArray();
            for (var month = 1; month <= 12; month++)
            {
                var period = PeriodWindow.Of(calendar, new Period(Year, month));
                foreach (var seed in Seeds)
                {
                    var hours = SyntheticUsage.Generate(shape, period, Zone, seed * 1000 + month);
                    var actual = hours.Where(h => period.Contains(h.HourStart)).Sum(h => h.Minutes);
                    for (var c = 0; c < CutoffDays.Length; c++)
                    {
                        var now = new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(
                            new DateTime(Year, month, CutoffDays[c] + 1, 0, 0, 0, DateTimeKind.Unspecified), Zone));
                        var from = now.AddDays(-28);
                        var history = hours.Where(h => h.HourStart >= from && h.HourStart < now).ToList();
                        var consumed = history.Where(h => h.HourStart >= period.Start).Sum(h => h.Minutes);
                        var input = new ForecastInput(consumed, null, period, now, history, from, Zone);
                        for (var m = 0; m < Methods.Length; m++)
                        {
                            errors[m][c].Add(Math.Abs(Methods[m].Forecast(input) - actual) / actual * 100);
                        }
                        errors[^1][c].Add(Math.Abs(Oracle(shape, period, now, consumed) - actual) / actual * 100);
                    }
                }
            }
            for (var m = 0; m < errors.Length; m++)
            {
                var e = errors[m];
                rows.Add(new BacktestRow(shape, m < Methods.Length ? Methods[m].Name : OracleName, e[0].Average(), e[1].Average(), e[2].Average(), e.SelectMany(x => x).Average()));
            }
        }
        return rows;
    }

    public static string Markdown(IReadOnlyList<BacktestRow> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| shape | method | day 7 | day 14 | day 21 | all cutoffs |");
        text.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Shape.ToString().ToLowerInvariant()} | {r.Method} | {r.Day7:F1} % | {r.Day14:F1} % | {r.Day21:F1} % | {r.All:F1} % |");
        }
        return text.ToString();
    }
}
