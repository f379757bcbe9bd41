using Microsoft.Extensions.Time.Testing;

namespace Tally.Metering.Tests.Monitoring;

/// <summary>Forecasts against hand-computed cases. April 2026 in UTC: 720 hours, starting on a Wednesday.</summary>
public class ForecastTests
{
    private static readonly PeriodWindow April = PeriodWindow.Of(new PeriodCalendar(TimeZoneInfo.Utc), new Period(2026, 4));

    private static DateTimeOffset Utc0(int month, int day, int hour = 0, int minute = 0) => new(2026, month, day, hour, minute, 0, TimeSpan.Zero);

    /// <summary>Every whole hour of [from, to) with <paramref name="minutesAt"/> of its start.</summary>
    private static List<HourlyUsage> Hours(DateTimeOffset from, DateTimeOffset to, Func<DateTimeOffset, long> minutesAt)
    {
        var hours = new List<HourlyUsage>();
        for (var t = from; t < to; t = t.AddHours(1))
        {
            hours.Add(new HourlyUsage(t, minutesAt(t)));
        }
        return hours;
    }

    /// <summary>60 minutes every hour from 28 days before <paramref name="now"/>; consumed is 60 per elapsed hour of April.</summary>
    private static ForecastInput Constant(DateTimeOffset now, PoolTerms? pool)
    {
        var from = now.AddDays(-28);
        var consumed = (long)Math.Round((now - April.Start).TotalHours * 60);
        return new ForecastInput(consumed, pool, April, now, Hours(from, now.AddHours(1), _ => 60), from, TimeZoneInfo.Utc);
    }

    [Fact]
    public void WeekdayAware_ConstantRate_EqualsLinearProjection()
    {
        // 10 days in: 14,400 consumed, 480 hours left at 60 → 43,200.
        var now = new FakeTimeProvider(Utc0(4, 11)).GetUtcNow();
        var input = Constant(now, null);
        var weekday = Forecaster.WeekdayAware(input);
        var linear = Forecaster.Linear(input.ConsumedMinutes, null, April, now);
        Assert.Equal(14_400, input.ConsumedMinutes);
        Assert.Equal(43_200, weekday.ProjectedDemandMinutes, 6);
        Assert.Equal(linear.ProjectedDemandMinutes, weekday.ProjectedDemandMinutes, 6);
        Assert.Equal(RateSource.Slot, weekday.WeakestSource);
        Assert.Equal(RunOutOutcome.Never, weekday.IncludedRunOut.Outcome);
    }

    [Fact]
    public void WeekdayAware_ConstantRateNowMidHour_CountsThePartialHour()
    {
        var now = Utc0(4, 11, 10, 30);
        var input = Constant(now, null);
        Assert.Equal(15_030, input.ConsumedMinutes); // 250.5 hours × 60
        Assert.Equal(43_200, Forecaster.WeekdayAware(input).ProjectedDemandMinutes, 6);
        Assert.Equal(43_200, Forecaster.Linear(input.ConsumedMinutes, null, April, now).ProjectedDemandMinutes, 6);
    }

    [Fact]
    public void WeekdayAware_ConstantRate_InterpolatesRunOutsExactly()
    {
        // 14,400 consumed at 00:00; included 14,430 is reached 30 minutes later, the limit (+600) 10 h 30 min later.
        var now = Utc0(4, 11);
        var f = Forecaster.WeekdayAware(Constant(now, new PoolTerms(14_430, OverageAllowance.Capped(600))));
        Assert.Equal(new RunOut(RunOutOutcome.Projected, Utc0(4, 11, 0, 30)), f.IncludedRunOut);
        Assert.Equal(new RunOut(RunOutOutcome.Projected, Utc0(4, 11, 10, 30)), f.LimitRunOut);
        Assert.Equal(15_030, f.ProjectedMinutes, 6);
        Assert.Equal(43_200, f.ProjectedDemandMinutes, 6);
    }

    [Fact]
    public void Linear_ConstantRate_InterpolatesRunOutsExactly()
    {
        var now = Utc0(4, 11);
        var f = Forecaster.Linear(14_400, new PoolTerms(14_430, OverageAllowance.Capped(600)), April, now);
        Assert.Equal(Utc0(4, 11, 0, 30), f.IncludedRunOut.At);
        Assert.Equal(Utc0(4, 11, 10, 30), f.LimitRunOut.At);
    }

    [Fact]
    public void WeekdayAware_PoolLastsThePeriod_RunOutsAreNull()
    {
        var f = Forecaster.WeekdayAware(Constant(Utc0(4, 11), new PoolTerms(50_000, OverageAllowance.Capped(1000))));
        Assert.Equal(RunOut.NotWithinPeriod, f.IncludedRunOut);
        Assert.Equal(RunOut.NotWithinPeriod, f.LimitRunOut);
        Assert.Null(f.IncludedRunOut.At);
    }

    [Fact]
    public void WeekdayAware_ReachedExactlyAtPeriodEnd_IsNotWithinPeriod()
    {
        // From 30 April 14:00, ten hours at 60 add 600 and end exactly at 1 May 00:00, when the pool resets.
        var input = Constant(Utc0(4, 30, 14), null);
        var f = Forecaster.WeekdayAware(input with { Pool = new PoolTerms(input.ConsumedMinutes + 600, OverageAllowance.None) });
        Assert.Equal(RunOut.NotWithinPeriod, f.IncludedRunOut);
        Assert.Equal(43_200, f.ProjectedMinutes, 6);
    }

    [Fact]
    public void WeekdayAware_UnlimitedOverage_LimitNeverRunsOut()
    {
        var f = Forecaster.WeekdayAware(Constant(Utc0(4, 11), new PoolTerms(14_430, OverageAllowance.Unlimited)));
        Assert.Equal(Utc0(4, 11, 0, 30), f.IncludedRunOut.At);
        Assert.Equal(RunOut.Never, f.LimitRunOut);
        Assert.Equal(43_200, f.ProjectedMinutes, 6);
    }

    [Fact]
    public void WeekdayAware_NoOverage_LimitRunsOutWithIncluded()
    {
        var f = Forecaster.WeekdayAware(Constant(Utc0(4, 11), new PoolTerms(14_430, OverageAllowance.None)));
        Assert.Equal(f.IncludedRunOut, f.LimitRunOut);
        Assert.Equal(14_430, f.ProjectedMinutes, 6);
    }

    [Fact]
    public void WeekdayAware_AlreadyPastIncluded_ReachedAtNow()
    {
        var now = Utc0(4, 11);
        var f = Forecaster.WeekdayAware(Constant(now, new PoolTerms(12_000, OverageAllowance.Capped(3000))));
        Assert.Equal(new RunOut(RunOutOutcome.AlreadyReached, now), f.IncludedRunOut);
        // 600 more at 60 an hour: ten hours.
        Assert.Equal(Utc0(4, 11, 10), f.LimitRunOut.At);
    }

    [Fact]
    public void WeekdayAware_OfficeHours_SkipsWeekendsAndNights()
    {
        // 100 minutes an hour 09:00–17:00 Monday to Friday, nothing else. 1–23 April hold 17 weekdays
        // (13,600); from Friday 24 April 00:00 the rest holds Fri 24, Mon 27 to Thu 30: 5 × 8 × 100 = 4,000 more.
        static long Office(DateTimeOffset t) =>
            t.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday) && t.Hour is >= 9 and < 17 ? 100 : 0;
        var now = Utc0(4, 24);
        var from = now.AddDays(-28);
        var history = Hours(from, now, Office);
        var consumed = history.Where(h => h.HourStart >= April.Start).Sum(h => h.Minutes);
        Assert.Equal(17 * 800, consumed);
        var f = Forecaster.WeekdayAware(new ForecastInput(consumed, null, April, now, history, from, TimeZoneInfo.Utc));
        Assert.Equal(13_600 + 4_000, f.ProjectedDemandMinutes, 6);
        // The linear baseline spreads the same 13,600 over every hour, weekends and nights included.
        Assert.Equal(13_600 / 23.0 * 30, Forecaster.Linear(consumed, null, April, now).ProjectedDemandMinutes, 6);
    }

    [Fact]
    public void Profile_WeekdayAndHour_AreTakenInTheLicenseZone()
    {
        // Tokyo is UTC+9: Sunday 23:00Z is Monday 08:00 there. Usage only then, over four weeks.
        var tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
        var end = Utc0(4, 20);
        var history = Hours(end.AddDays(-28), end, t => t.DayOfWeek == DayOfWeek.Sunday && t.Hour == 23 ? 60 : 0);
        var profile = HourlyRateProfile.Learn(history, end.AddDays(-28), end, tokyo);
        Assert.Equal(28 * 24, profile.ObservedHours);
        Assert.Equal(new HourlyRate(60, RateSource.Slot), profile.RateAt(Utc0(4, 26, 23, 30)));
        Assert.Equal(new HourlyRate(0, RateSource.Slot), profile.RateAt(Utc0(4, 27, 8)));
    }

    [Fact]
    public void Profile_TwoWeekdaysOfHistory_FallsBackByDayClassThenHour()
    {
        // History Monday 13 and Tuesday 14 April: 30 an hour at 10:00, 6 otherwise.
        var from = Utc0(4, 13);
        var history = Hours(from, Utc0(4, 15), t => t.Hour == 10 ? 30 : 6);
        var profile = HourlyRateProfile.Learn(history, from, Utc0(4, 15), TimeZoneInfo.Utc);
        Assert.Equal(new HourlyRate(30, RateSource.Slot), profile.RateAt(Utc0(4, 20, 10)));          // a Monday
        Assert.Equal(new HourlyRate(30, RateSource.DayClassHour), profile.RateAt(Utc0(4, 15, 10)));  // a Wednesday
        Assert.Equal(new HourlyRate(6, RateSource.HourOfDay), profile.RateAt(Utc0(4, 18, 3)));       // a Saturday
    }

    [Fact]
    public void Profile_PartialHoursAndOutsideBuckets_AreIgnored()
    {
        // The window starts mid-hour and ends mid-hour: only 11:00 and 12:00 are whole, so the 10:00 and 13:00
        // buckets do not count, and a bucket before the window neither.
        var history = new[]
        {
            new HourlyUsage(Utc0(4, 13, 9), 600), new HourlyUsage(Utc0(4, 13, 10), 600),
            new HourlyUsage(Utc0(4, 13, 11), 12), new HourlyUsage(Utc0(4, 13, 12), 24), new HourlyUsage(Utc0(4, 13, 13), 600),
        };
        var profile = HourlyRateProfile.Learn(history, Utc0(4, 13, 10, 15), Utc0(4, 13, 13, 45), TimeZoneInfo.Utc);
        Assert.Equal(2, profile.ObservedHours);
        Assert.Equal(new HourlyRate(18, RateSource.Overall), profile.RateAt(Utc0(4, 14, 3)));
    }

    [Fact]
    public void WeekdayAware_NoHistory_FallsBackToPeriodLinear()
    {
        var now = Utc0(4, 11);
        var f = Forecaster.WeekdayAware(new ForecastInput(14_400, null, April, now, [], now, TimeZoneInfo.Utc));
        Assert.Equal(43_200, f.ProjectedDemandMinutes, 6);
        Assert.Equal(RateSource.PeriodLinear, f.WeakestSource);
    }

    [Fact]
    public void Linear_AtPeriodStart_AddsNothing()
    {
        var f = Forecaster.Linear(0, new PoolTerms(1000, OverageAllowance.None), April, April.Start);
        Assert.Equal(0, f.ProjectedDemandMinutes);
        Assert.Equal(RunOut.NotWithinPeriod, f.IncludedRunOut);
    }

    [Fact]
    public void Forecast_AfterPeriodEnd_ProjectsOnlyWhatWasConsumed()
    {
        var f = Forecaster.Linear(5000, null, April, Utc0(5, 2));
        Assert.Equal(5000, f.ProjectedDemandMinutes);
    }

    [Fact]
    public void WeekdayAware_SameInputs_SameForecast()
    {
        var input = Constant(Utc0(4, 11, 7, 13), new PoolTerms(20_000, OverageAllowance.Capped(6000)));
        Assert.Equal(Forecaster.WeekdayAware(input), Forecaster.WeekdayAware(input));
    }

    [Theory]
    [InlineData(9_996, RunOutOutcome.AlreadyReached)] // 4 left: no six-minute unit fits
    [InlineData(9_994, RunOutOutcome.NotWithinPeriod)] // exactly one unit left: the next one still fits
    public void Linear_LessThanAUnitLeftAtPeriodEnd_AlreadyReached(long consumed, RunOutOutcome expected)
    {
        // Seen from the period's end (a past month), nothing more is projected: only the unit rule can say "reached".
        var pool = new PoolTerms(10_000, OverageAllowance.None);

        var forecast = Forecaster.Linear(consumed, pool, April, April.End, unitMinutes: 6);

        Assert.Equal(expected, forecast.IncludedRunOut.Outcome);
        Assert.Equal(expected, forecast.LimitRunOut.Outcome);
    }
}
