using Tally.Metering;

namespace Tally.Backtest.Tests;

/// <summary>The generator behaves like the office it claims to simulate; small populations keep these fast.</summary>
public sealed class GeneratorTests
{
    private const int Users = 600;
    private const int Seed = 42;
    private static readonly DateOnly May1 = new(2026, 5, 1);
    private static readonly DateOnly July1 = new(2026, 7, 1);

    private static UsageGenerator Generator(ScenarioKind kind, int seed = Seed, int users = Users) =>
        new(new GeneratorSettings(users, seed, GeneratorSettings.Paris, BacktestSettings.HistoryStart), Scenario.All.Single(s => s.Kind == kind));

    private static List<GeneratedDay> Days(ScenarioKind kind, DateOnly from, DateOnly to) => Generator(kind).Days(from, to).ToList();

    [Fact]
    public void The_same_seed_gives_the_same_events_and_another_seed_other_ones()
    {
        var from = new DateOnly(2026, 4, 27);
        var first = Generator(ScenarioKind.Steady).Days(from, from.AddDays(7)).SelectMany(d => d.Events).ToList();
        var again = Generator(ScenarioKind.Steady).Days(from, from.AddDays(7)).SelectMany(d => d.Events).ToList();
        var other = Generator(ScenarioKind.Steady, seed: Seed + 1).Days(from, from.AddDays(7)).SelectMany(d => d.Events).ToList();

        Assert.NotEmpty(first);
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Events_come_in_time_order_inside_their_local_day_or_just_after_it()
    {
        var days = Days(ScenarioKind.Steady, May1, May1.AddDays(14));
        var events = days.SelectMany(d => d.Events).ToList();

        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.TimeTicks <= p.Second.TimeTicks));
        Assert.All(events, e => Assert.True(e.Action is MeterAction.OpenApp or MeterAction.Select or MeterAction.Navigate or MeterAction.Insight
            or MeterAction.CreateBookmark or MeterAction.CloseApp));
    }

    [Fact]
    public void French_public_holidays_are_as_quiet_as_a_Sunday_and_not_empty()
    {
        var days = Days(ScenarioKind.Steady, May1, July1);
        var working = days.Where(d => d.Kind == DayKind.Working).Average(d => d.Events.Length);
        var holidays = days.Where(d => d.Kind == DayKind.Holiday).ToList();

        // May 2026: Labour Day, Victory in Europe Day, Ascension, Whit Monday.
        Assert.Equal([new(2026, 5, 1), new(2026, 5, 8), new(2026, 5, 14), new(2026, 5, 25)], holidays.Select(d => d.Day));
        Assert.All(holidays, d => Assert.InRange(d.Events.Length, 1, 0.1 * working));
    }

    [Fact]
    public void Weekends_and_nights_are_quiet_and_not_empty()
    {
        var days = Days(ScenarioKind.Steady, May1, July1);
        var working = days.Where(d => d.Kind == DayKind.Working).ToList();
        var average = working.Average(d => d.Events.Length);

        Assert.All(days.Where(d => d.Kind is DayKind.Saturday or DayKind.Sunday), d => Assert.InRange(d.Events.Length, 1, 0.12 * average));
        var byLocalHour = working.SelectMany(d => d.Events).Where(e => e.Action == MeterAction.OpenApp)
            .GroupBy(e => TimeZoneInfo.ConvertTime(e.Time, GeneratorSettings.Paris).Hour).ToDictionary(g => g.Key, g => g.Count());
        var office = byLocalHour.GetValueOrDefault(10);
        Assert.InRange(byLocalHour.GetValueOrDefault(3), 1, 0.05 * office);
        // The lunch dip.
        Assert.True(byLocalHour.GetValueOrDefault(12) < 0.7 * office);
    }

    [Fact]
    public void Power_users_are_few_and_use_much_more_than_the_median()
    {
        var events = Days(ScenarioKind.Steady, May1, July1).SelectMany(d => d.Events).Where(e => e.Action == MeterAction.OpenApp);
        var perUser = events.GroupBy(e => e.User).Select(g => g.Count()).Order().ToList();
        var median = perUser[perUser.Count / 2];
        var top = perUser[(int)(perUser.Count * 0.99)];

        Assert.True(top > 8 * median, $"99th percentile {top} vs median {median}");
    }

    [Fact]
    public void Growth_adds_about_a_quarter_a_month_per_working_day()
    {
        var days = Generator(ScenarioKind.Growth).Days(May1, July1).ToList();
        var history = MeteredHistory.Meter(days, GeneratorSettings.Paris);

        double PerWorkingDay(int month) => days.Where(d => d.Kind == DayKind.Working && d.Day.Month == month)
            .Average(d => Minutes(history, d.Day));

        Assert.InRange(PerWorkingDay(6) / PerWorkingDay(5), 1.15, 1.35);
    }

    [Fact]
    public void The_step_adds_a_third_more_users_from_the_tenth_of_May()
    {
        var days = Days(ScenarioKind.Step, May1, July1);

        Assert.All(days.Where(d => d.Day < Scenario.StepFirst), d => Assert.All(d.Events, e => Assert.InRange(e.User, 1, Users)));
        var newcomers = days.Where(d => d.Day >= Scenario.StepFirst).SelectMany(d => d.Events).Where(e => e.User > Users).Select(e => e.User).Distinct().Count();
        Assert.InRange(newcomers, (int)(0.2 * Users), (int)(0.35 * Users));
        var before = days.Where(d => d.Kind == DayKind.Working && d.Day < Scenario.StepFirst).Average(d => d.Events.Length);
        var after = days.Where(d => d.Kind == DayKind.Working && d.Day >= Scenario.StepFirst).Average(d => d.Events.Length);
        Assert.InRange(after / before, 1.15, 1.6);
    }

    private static long Minutes(MeteredHistory history, DateOnly day) =>
        history.MinutesBetween(Backtest.LocalMidnight(day, GeneratorSettings.Paris).UtcTicks, Backtest.LocalMidnight(day.AddDays(1), GeneratorSettings.Paris).UtcTicks);
}
