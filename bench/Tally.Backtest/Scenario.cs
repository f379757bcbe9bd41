namespace Tally.Backtest;

/// <summary>The shape of demand over the history, on top of the office-hours and calendar pattern every scenario shares.</summary>
public enum ScenarioKind
{
    /// <summary>The same population at the same intensity throughout.</summary>
    Steady,
    /// <summary>Intensity compounds daily to +25 % a month.</summary>
    Growth,
    /// <summary>One week at 2.5×, then back to normal.</summary>
    Spike,
    /// <summary>A new department (+35 % of users) joins on a day and stays.</summary>
    Step,
}

/// <summary>
/// One scenario of the backtest. Every scenario starts from the same users (same seed), so their differences are the
/// shape alone. Days are local days of the license's zone.
/// </summary>
public sealed record Scenario(string Name, ScenarioKind Kind)
{
    /// <summary>Growth per month; compounding daily over a month of 30.4375 days (365.25 ÷ 12).</summary>
    public const double GrowthPerMonth = 0.25;

    public const double AverageMonthDays = 365.25 / 12;

    /// <summary>The spike: a working week in mid-May (Monday 11 to Sunday 17 May 2026, Ascension on the 14th).</summary>
    public static readonly DateOnly SpikeFirst = new(2026, 5, 11);
    public static readonly DateOnly SpikeLast = new(2026, 5, 17);
    public const double SpikeFactor = 2.5;

    /// <summary>The step: the new department's first day (a Sunday, so its first working day is Monday 11 May).</summary>
    public static readonly DateOnly StepFirst = new(2026, 5, 10);
    public const double StepShare = 0.35;

    public static IReadOnlyList<Scenario> All { get; } =
    [
        new("steady", ScenarioKind.Steady),
        new("growth", ScenarioKind.Growth),
        new("spike", ScenarioKind.Spike),
        new("step", ScenarioKind.Step),
    ];

    /// <summary>How much busier than the history's first day every present user is on <paramref name="day"/>.</summary>
    public double Intensity(DateOnly day, DateOnly historyStart) => Kind switch
    {
        ScenarioKind.Growth => Math.Pow(1 + GrowthPerMonth, (day.DayNumber - historyStart.DayNumber) / AverageMonthDays),
        ScenarioKind.Spike when day >= SpikeFirst && day <= SpikeLast => SpikeFactor,
        _ => 1.0,
    };

    /// <summary>How many users exist on <paramref name="day"/> out of a base population of <paramref name="baseUsers"/>.</summary>
    public int UsersOn(DateOnly day, int baseUsers) =>
        Kind == ScenarioKind.Step && day >= StepFirst ? baseUsers + (int)Math.Round(baseUsers * StepShare) : baseUsers;

    /// <summary>The most users the scenario ever has, so the generator can draw every user's traits up front.</summary>
    public static int MaxUsers(int baseUsers) => baseUsers + (int)Math.Round(baseUsers * StepShare);
}
