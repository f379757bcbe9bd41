namespace Tally.Metering.Tests.Monitoring;

/// <summary>The shapes of month the backtest generates.</summary>
internal enum UsageShape
{
    /// <summary>Working hours on weekdays, a little at weekends.</summary>
    Steady,
    /// <summary>Steady, rising 50 % over each month, continuously (the weeks before the month are lower).</summary>
    Growing,
    /// <summary>Steady, with local days 13–15 of the month at 4×.</summary>
    Spike,
}

/// <summary>
/// Deterministic synthetic hourly consumption for one target month, starting 35 days before it so the forecast has
/// a trailing window. <see cref="Random"/> with a seed is stable across runs and platforms, so the backtest table
/// reproduces exactly.
/// </summary>
internal static class SyntheticUsage
{
    public static List<HourlyUsage> Generate(UsageShape shape, PeriodWindow month, TimeZoneInfo zone, int seed)
    {
        var random = new Random(seed);
        var hours = new List<HourlyUsage>();
        var dayFactor = 1.0;
        var day = DateTime.MinValue;
        for (var t = month.Start.AddDays(-35); t < month.End; t = t.AddHours(1))
        {
            var local = TimeZoneInfo.ConvertTime(t, zone).DateTime;
            if (local.Date != day)
            {
                // Some days are busier than others, on top of the hour-to-hour noise.
                day = local.Date;
                dayFactor = 0.85 + (0.3 * random.NextDouble());
            }
            var hourNoise = 0.75 + (0.5 * random.NextDouble());
            var minutes = ExpectedMinutes(shape, month, zone, t) * dayFactor * hourNoise;
            // Charged minutes come in whole six-minute units.
            hours.Add(new HourlyUsage(t, (long)Math.Round(minutes / 6) * 6));
        }
        return hours;
    }

    /// <summary>The noise-free mean of an hour: both noise factors average 1. The backtest's oracle forecasts with it.</summary>
    public static double ExpectedMinutes(UsageShape shape, PeriodWindow month, TimeZoneInfo zone, DateTimeOffset t)
    {
        var local = TimeZoneInfo.ConvertTime(t, zone).DateTime;
        return BaseMinutes(local) * ShapeFactor(shape, month, t, local);
    }

    /// <summary>About forty analysts in office hours, a few early and late, almost nobody at night or at weekends.</summary>
    private static double BaseMinutes(DateTime local)
    {
        var weekend = local.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
        return weekend
            ? local.Hour is >= 10 and < 16 ? 24 : 0
            : local.Hour switch
            {
                >= 8 and < 18 => 240,
                7 or 18 or 19 => 60,
                _ => 6,
            };
    }

    private static double ShapeFactor(UsageShape shape, PeriodWindow month, DateTimeOffset t, DateTime local) => shape switch
    {
        UsageShape.Growing => Math.Pow(1.5, (t - month.Start).Ticks / (double)month.Length.Ticks),
        UsageShape.Spike when month.Contains(t) && local.Day is >= 13 and <= 15 => 4,
        _ => 1,
    };
}
