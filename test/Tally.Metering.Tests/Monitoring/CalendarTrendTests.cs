namespace Tally.Metering.Tests.Monitoring;

/// <summary>
/// The calendar-and-trend forecast against hand-computed months in Europe/Paris: an office of 480 minutes on each
/// working day (60 an hour, 09:00–17:00 local), an eighth of that on Saturdays (10:00–11:00) and nothing on Sundays,
/// so every expected total is a sum of whole days.
/// </summary>
public class CalendarTrendTests
{
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
    private static readonly PeriodCalendar Months = new(Paris);
    private static readonly WorkCalendar France = WorkCalendar.Create("FR", null).Value!;

    private static DateTimeOffset LocalMidnight(int month, int day) =>
        new(TimeZoneInfo.ConvertTimeToUtc(new DateTime(2026, month, day, 0, 0, 0, DateTimeKind.Unspecified), Paris), TimeSpan.Zero);

    /// <summary>The office's minutes in a local day of the given working-day size (a closed day is a Sunday).</summary>
    private static double DayMinutes(DateOnly day, double workingDay, WorkCalendar closed) =>
        day.DayOfWeek == DayOfWeek.Sunday || (day.DayOfWeek != DayOfWeek.Saturday && closed.IsClosed(day)) ? 0
        : day.DayOfWeek == DayOfWeek.Saturday ? workingDay / 8
        : workingDay;

    /// <summary>
    /// Hourly history over [from, now): each local day's minutes (<paramref name="workingDay"/> of its date) spread
    /// evenly over 09:00–17:00 (or 10:00–11:00 on Saturdays).
    /// </summary>
    private static List<HourlyUsage> History(DateTimeOffset from, DateTimeOffset now, Func<DateOnly, double> workingDay, WorkCalendar closed)
    {
        var hours = new List<HourlyUsage>();
        for (var t = from; t < now; t = t.AddHours(1))
        {
            var local = TimeZoneInfo.ConvertTime(t, Paris).DateTime;
            var day = DateOnly.FromDateTime(local);
            var minutes = DayMinutes(day, workingDay(day), closed);
            var saturday = day.DayOfWeek == DayOfWeek.Saturday;
            var open = saturday ? local.Hour == 10 : local.Hour is >= 9 and < 17;
            if (open && minutes > 0)
            {
                hours.Add(new HourlyUsage(t, (long)Math.Round(minutes / (saturday ? 1 : 8))));
            }
        }
        return hours;
    }

    private static double Expected(PeriodWindow period, DateTimeOffset from, Func<DateOnly, double> workingDay, WorkCalendar closed)
    {
        var first = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(from, Paris).DateTime);
        var last = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(period.End.AddTicks(-1), Paris).DateTime);
        var total = 0.0;
        for (var day = first; day <= last; day = day.AddDays(1))
        {
            total += DayMinutes(day, workingDay(day), closed);
        }
        return total;
    }

    private static Forecast ForecastAt(DateTimeOffset now, Func<DateOnly, double> workingDay, WorkCalendar historyClosed, WorkCalendar calendar, PoolTerms? pool = null)
    {
        var period = PeriodWindow.Containing(Months, now);
        var from = now.AddDays(-56);
        var history = History(from, now, workingDay, historyClosed);
        var consumed = history.Where(h => h.HourStart >= period.Start).Sum(h => h.Minutes);
        return Forecaster.CalendarTrend(new ForecastInput(consumed, pool, period, now, history, from, Paris, Calendar: calendar));
    }

    [Fact]
    public void SteadyOffice_ProjectsEachDayByItsClass()
    {
        var now = LocalMidnight(6, 1);
        var f = ForecastAt(now, _ => 480, WorkCalendar.None, WorkCalendar.None);
        // June 2026: 22 working days and 4 Saturdays.
        Assert.Equal(22 * 480 + 4 * 60, f.ProjectedDemandMinutes, 6);
        Assert.Equal(ForecastMethod.CalendarTrend, f.Method);
        Assert.Equal(480, f.Model!.WorkingDayLevel, 6);
        Assert.Equal(0, f.Model.TrendPerWeek, 9);
        Assert.Null(f.Model.LevelShiftDay);
    }

    [Fact]
    public void PublicHolidaysAhead_AreProjectedLikeSundays()
    {
        // May 2026 has four French public holidays on working days: 1, 8, 14 and 25 May.
        var now = LocalMidnight(5, 1);
        // The office was closed on Easter Monday (6 April) too, so the history does not say it works on holidays.
        var plain = ForecastAt(now, _ => 480, France, WorkCalendar.None);
        var french = ForecastAt(now, _ => 480, France, France);
        // Not quite exact: without the calendar, the closed Easter Monday is a working day the fit weighs out.
        Assert.InRange(plain.ProjectedDemandMinutes - french.ProjectedDemandMinutes, 4 * 480 * 0.99, 4 * 480 * 1.01);
        Assert.Equal("FR", french.Model!.Calendar.Country);
    }

    [Fact]
    public void PublicHolidaysInHistory_DoNotLowerTheWorkingDay()
    {
        // The eight weeks before 1 June hold Easter Monday, 1, 8, 14 and 25 May, all closed; June has none.
        var now = LocalMidnight(6, 1);
        var f = ForecastAt(now, _ => 480, France, France);
        Assert.Equal(480, f.Model!.WorkingDayLevel, 6);
        Assert.Equal(22 * 480 + 4 * 60, f.ProjectedDemandMinutes, 6);
    }

    [Fact]
    public void ClosureDaysOfTheTenant_CloseLikeHolidays()
    {
        var now = LocalMidnight(6, 1);
        var closures = WorkCalendar.Create(null, [new DateOnly(2026, 6, 19), new DateOnly(2026, 6, 20)]).Value!;
        var f = ForecastAt(now, _ => 480, WorkCalendar.None, closures);
        // 19 June is a Friday (a working day closed); 20 June a Saturday, which closure does not change.
        Assert.Equal(21 * 480 + 4 * 60, f.ProjectedDemandMinutes, 6);
    }

    [Fact]
    public void SteadyGrowth_IsCarriedToTheMonthsEnd()
    {
        // +25 % a month, compounding daily.
        var growth = Math.Log(1.25) / 30;
        var origin = new DateOnly(2026, 6, 1);
        double WorkingDay(DateOnly day) => 480 * Math.Exp(growth * (day.DayNumber - origin.DayNumber));
        var now = LocalMidnight(6, 8);
        var f = ForecastAt(now, WorkingDay, WorkCalendar.None, WorkCalendar.None);
        var actual = Expected(PeriodWindow.Containing(Months, now), LocalMidnight(6, 1), WorkingDay, WorkCalendar.None);
        Assert.InRange(f.ProjectedDemandMinutes / actual, 0.99, 1.01);
        Assert.InRange(f.Model!.TrendPerWeek, Math.Exp(7 * growth) - 1 - 0.005, Math.Exp(7 * growth) - 1 + 0.005);
        // A straight line through the month so far lags the growth.
        Assert.True(Forecaster.Linear(f.ConsumedMinutes, null, f.Period, now).ProjectedDemandMinutes < 0.97 * actual);
    }

    [Fact]
    public void LastingStep_IsTakenAsTheNewLevel()
    {
        // A department joins on Monday 11 May: working days from then use 720 minutes.
        var joined = new DateOnly(2026, 5, 11);
        double WorkingDay(DateOnly day) => day >= joined ? 720 : 480;
        var f = ForecastAt(LocalMidnight(6, 1), WorkingDay, WorkCalendar.None, WorkCalendar.None);
        Assert.Equal(joined, f.Model!.LevelShiftDay);
        // Within 0.1 %: the models without the step keep a vanishing weight in the average.
        Assert.InRange(f.Model.WorkingDayLevel, 720 * 0.999, 720 * 1.001);
        Assert.InRange(f.Model.TrendPerWeek, -0.001, 0.001);
        Assert.InRange(f.ProjectedDemandMinutes, (22 * 720 + 4 * 90) * 0.999, (22 * 720 + 4 * 90) * 1.001);
    }

    [Fact]
    public void OneBusyWeekInHistory_IsNotANewLevel()
    {
        // The week of 4 May used 2.5 times as much; then it was over.
        double WorkingDay(DateOnly day) => day >= new DateOnly(2026, 5, 4) && day <= new DateOnly(2026, 5, 8) ? 1200 : 480;
        var f = ForecastAt(LocalMidnight(6, 1), WorkingDay, WorkCalendar.None, WorkCalendar.None);
        Assert.Null(f.Model!.LevelShiftDay);
        Assert.InRange(f.Model.WorkingDayLevel, 480 * 0.999, 480 * 1.001);
        Assert.InRange(f.ProjectedDemandMinutes, (22 * 480 + 4 * 60) * 0.999, (22 * 480 + 4 * 60) * 1.001);
    }

    [Fact]
    public void NoisyHistory_BandBracketsTheForecastAndTheRunOuts()
    {
        var random = new Random(16);
        var noise = new Dictionary<DateOnly, double>();
        double WorkingDay(DateOnly day) => 480 * (noise.TryGetValue(day, out var n) ? n : noise[day] = 0.8 + (0.4 * random.NextDouble()));
        var pool = new PoolTerms(6_000, OverageAllowance.Capped(600));
        var f = ForecastAt(LocalMidnight(6, 8), WorkingDay, WorkCalendar.None, WorkCalendar.None, pool);
        Assert.True(f.Band.LowDemandMinutes < f.ProjectedDemandMinutes && f.ProjectedDemandMinutes < f.Band.HighDemandMinutes);
        Assert.True(f.Band.LowDemandMinutes >= f.ConsumedMinutes);
        Assert.Equal(RunOutOutcome.Projected, f.IncludedRunOut.Outcome);
        Assert.Equal(RunOutOutcome.Projected, f.Band.IncludedEarliest.Outcome);
        Assert.True(f.Band.IncludedEarliest.At < f.IncludedRunOut.At);
        Assert.True(f.Band.IncludedLatest.At is null || f.Band.IncludedLatest.At > f.IncludedRunOut.At);
        Assert.True(f.Band.LimitEarliest.At <= f.LimitRunOut.At);
        // The spread is the daily noise's: a few percent of the month, not nothing and not the whole.
        var spread = (f.Band.HighDemandMinutes - f.Band.LowDemandMinutes) / f.ProjectedDemandMinutes;
        Assert.InRange(spread, 0.01, 0.3);
    }

    [Fact]
    public void UnderAWeekOfHistory_FallsBackToTheHourlyProfileWithAWideBand()
    {
        var now = LocalMidnight(6, 4);
        var period = PeriodWindow.Containing(Months, now);
        var from = LocalMidnight(6, 1);
        var history = History(from, now, _ => 480, WorkCalendar.None);
        var consumed = history.Sum(h => h.Minutes);
        var f = Forecaster.CalendarTrend(new ForecastInput(consumed, null, period, now, history, from, Paris, Calendar: France));
        Assert.Equal(ForecastMethod.WeekdayAware, f.Method);
        Assert.Null(f.Model);
        Assert.True(f.Band.HighDemandMinutes - f.Band.LowDemandMinutes > 0.2 * (f.ProjectedDemandMinutes - consumed));
    }

    [Fact]
    public void SparseTenant_IsForecastFromItsAverageDay()
    {
        // One working day in three has a single unit: too sparse for a trend.
        double WorkingDay(DateOnly day) => day.DayNumber % 3 == 0 ? 8 : 0;
        var f = ForecastAt(LocalMidnight(6, 1), WorkingDay, WorkCalendar.None, WorkCalendar.None);
        Assert.Equal(ForecastMethod.CalendarTrend, f.Method);
        Assert.InRange(f.ProjectedDemandMinutes, 22 * 8 / 3.0 * 0.6, 22 * 8 / 3.0 * 1.4 + (4 * 60));
        Assert.Equal(0, f.Model!.TrendPerWeek);
    }

    [Fact]
    public void Calendar_KnownCountriesAndZones()
    {
        Assert.Equal("FR", WorkCalendar.CountryOfZone(Paris));
        Assert.Null(WorkCalendar.CountryOfZone(TimeZoneInfo.Utc));
        Assert.True(France.IsClosed(new DateOnly(2026, 5, 14)));
        Assert.False(France.IsClosed(new DateOnly(2026, 5, 13)));
        var unknown = WorkCalendar.Create("XX", null);
        Assert.False(unknown.IsOk);
        Assert.Contains("'XX'", unknown.Error);
        Assert.Same(WorkCalendar.None, WorkCalendar.Create(null, []).Value);
        Assert.False(WorkCalendar.Create(null, Enumerable.Range(0, WorkCalendar.MaxClosureDays + 1).Select(i => new DateOnly(2026, 1, 1).AddDays(i))).IsOk);
    }
}
