namespace Tally.Metering;

/// <summary>
/// The calendar-and-trend model of a tenant's usage, learned from hourly history in the license's zone:
/// <list type="number">
/// <item>the history is read as local days, each of a class: its weekday, or <em>closed</em> for a Monday–Friday the
/// <see cref="WorkCalendar"/> closes (a public holiday or the tenant's closure day);</item>
/// <item>the working days (Monday–Friday, open) give a level: a robust line through the logarithm of their minutes
/// (each divided by its weekday's factor), with an optional trend and an optional lasting step, chosen by BIC;
/// a week of unusual usage is weighed out as an outlier rather than read as a new level;</item>
/// <item>each class has a factor (its median ratio to the level: a Saturday is perhaps 5 % of a working day, a
/// holiday like a Sunday until the history shows one) and an hour-of-day shape (its share of the day's minutes).</item>
/// </list>
/// A day ahead is then expected to use <c>level(t) × factor(class)</c> minutes, spread over its hours by the shape.
/// Immutable once learned; <see cref="Learn"/> is pure.
/// </summary>
public sealed class CalendarTrendModel
{
    /// <summary>Complete local days of history below which the model declines (the hourly profile forecasts instead).</summary>
    public const int MinimumHistoryDays = 7;

    // A step needs this many working days after it before it is believed: fewer cannot tell a new level from a bad day.
    internal const int MinimumDaysAfterStep = 3;
    private const int MinimumDaysBeforeStep = 5;
    // A trend needs two weeks of working days to be told from noise.
    private const int MinimumDaysForTrend = 10;
    // A working-day share above which zero days mean the tenant is too sparse for a log-scale fit.
    private const double SparseZeroShare = 0.2;
    private const double MinimumTrendT = 4;
    private const int StepFullBeliefDays = 8;
    private const double NegligibleBic = 14;
    private const double MinimumStepT = 4;
    private static readonly double MinimumStepSize = Math.Log(1.1);
    private const int Closed = 7;
    private const int Classes = 8;

    private readonly TimeZoneInfo _zone;
    private readonly DateOnly _origin;
    private readonly IReadOnlyList<WeightedLine> _lines;
    private readonly double _sparseLevel;
    private readonly double _sparseRelativeSd;
    private readonly double _weeklyNoise;
    private readonly double _offset;
    private readonly double[] _factor;

    // The last day DayAhead computed: a projection asks for a day's hours in a row. A cache of a pure function, held
    // in an immutable record swapped by reference, so a model shared between threads reads one day's values whole.
    private DayCache? _lastDay;

    private sealed record DayCache(DateOnly Day, double Minutes, double RelativeSd);

    // Each class's factor's standard error, as a fraction: what a day ahead inherits from the few days its class had.
    private double[] FactorError { get; init; } = new double[Classes];
    private readonly double[][] _share;
    private readonly DateOnly? _stepDay;

    private CalendarTrendModel(
        TimeZoneInfo zone, WorkCalendar calendar, DateOnly origin, IReadOnlyList<WeightedLine> lines, double sparseLevel, double sparseRelativeSd, double offset,
        double[] factor, double[][] share, DateOnly? stepDay, int historyDays, double weeklyNoise)
    {
        _weeklyNoise = weeklyNoise;
        _zone = zone;
        Calendar = calendar;
        _origin = origin;
        _lines = lines;
        _sparseLevel = sparseLevel;
        _sparseRelativeSd = sparseRelativeSd;
        _offset = offset;
        _factor = factor;
        _share = share;
        _stepDay = stepDay;
        HistoryDays = historyDays;
    }

    public WorkCalendar Calendar { get; }

    /// <summary>Complete local days the model learned from.</summary>
    public int HistoryDays { get; }

    /// <summary>The daily noise: the robust standard deviation of a working day around the level, as a fraction of it.</summary>
    public double DailyNoise => _lines.Count > 0 ? _lines.Sum(l => l.Weight * l.Line.Scale) : _sparseRelativeSd;

    /// <summary>
    /// How far a whole week's level wanders from the line, beyond what its days' own noise explains, as a fraction:
    /// busy and quiet weeks come in runs (a project, a holiday season), and the days of one week share it.
    /// </summary>
    public double WeeklyNoise => _weeklyNoise;

    /// <summary>What the model read, for the forecast's explanation.</summary>
    public ForecastModel Description => new(
        WorkingDayLevel: LevelAt(0),
        TrendPerWeek: Math.Exp(7 * _lines.Sum(l => l.Weight * l.Line.Slope)) - 1,
        LevelShiftDay: _stepDay,
        HistoryDays: HistoryDays,
        Calendar: Calendar);

    /// <summary>
    /// Learns from hourly buckets over <c>[historyStart, now)</c> (an hour in the window without a bucket counts as
    /// zero, as for <see cref="HourlyRateProfile"/>), or returns null with fewer than <see cref="MinimumHistoryDays"/>
    /// complete local days, or fewer than three working days, to learn from.
    /// </summary>
    public static CalendarTrendModel? Learn(
        IEnumerable<HourlyUsage> history, DateTimeOffset historyStart, DateTimeOffset now, TimeZoneInfo zone, WorkCalendar calendar)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(zone);
        ArgumentNullException.ThrowIfNull(calendar);
        var days = LocalDays(history, historyStart, now, zone);
        var origin = DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(now.UtcDateTime, zone));
        var complete = days.Where(d => d.Complete).Select(d => new Day(d.Date, ClassOf(d.Date, calendar), d.Minutes, d.Hours, d.Date.DayNumber - origin.DayNumber)).ToList();
        var working = complete.Where(d => d.Class is >= 1 and <= 5).ToList();
        if (complete.Count < MinimumHistoryDays || working.Count < 3)
        {
            return null;
        }

        var share = Shares(complete);
        var zeroShare = working.Count(d => d.Minutes <= 0) / (double)working.Count;
        if (zeroShare > SparseZeroShare)
        {
            return Sparse(zone, calendar, origin, complete, working, share);
        }

        // Weekday factors and the level depend on each other: fit the level on raw working days, read the factors
        // against it, then fit again on working days divided by their factors.
        var factor = Enumerable.Repeat(1.0, Classes).ToArray();
        var factorError = new double[Classes];
        IReadOnlyList<WeightedLine> lines = [];
        var offset = 0.0;
        for (var round = 0; round < 2; round++)
        {
            var y = working.Select(d => d.Minutes / factor[d.Class]).ToArray();
            // A small offset keeps a zero day finite in the logarithm; the bisquare then weighs it out.
            offset = Math.Max(1e-6, 0.01 * RobustLine.Median(y));
            var t = working.Select(d => (double)d.T).ToArray();
            var z = y.Select(v => Math.Log(v + offset)).ToArray();
            var candidates = Select(t, z);
            if (candidates.Count == 0)
            {
                return null;
            }
            lines = candidates;
            (factor, factorError) = Factors(complete, working, lines[0].Line, offset);
        }
        // The shift named is the likeliest model's, when the models with a step hold most of the weight.
        DateOnly? stepDay = lines[0].Line.StepFrom is { } from && lines.Where(l => l.Line.StepFrom is not null).Sum(l => l.Weight) >= 0.5
            ? working[from].Date
            : null;
        return new CalendarTrendModel(zone, calendar, origin, lines, 0, 0, offset, factor, share, stepDay, complete.Count,
            WeeklyNoiseOf(working, lines[0].Line)) { FactorError = factorError };
    }

    /// <summary>The minutes a local day is expected to use in all.</summary>
    public double ExpectedDayMinutes(DateOnly day) => LevelAt(day.DayNumber - _origin.DayNumber) * _factor[ClassOf(day, Calendar)];

    /// <summary>
    /// The share of its day's minutes the local hour holds, for the day's class. A 25-hour DST day repeats one hour's
    /// share and a 23-hour one skips one: at night, where the minutes are few.
    /// </summary>
    public double ShareOfHour(DateOnly day, int localHour) => _share[ClassOf(day, Calendar)][localHour];

    /// <summary>The standard deviation of the level at a day ahead, as a fraction of it: what the fit does not know.</summary>
    public double LevelUncertainty(DateOnly day)
    {
        if (_lines.Count == 0)
        {
            return _sparseRelativeSd / Math.Sqrt(Math.Max(1, HistoryDays));
        }
        // The averaged models' variance: each model's own (log scale, so relative) plus how far it is from the mean.
        var t = day.DayNumber - _origin.DayNumber;
        var mean = _lines.Sum(l => l.Weight * Math.Exp(l.LogLevelAhead(t)));
        var variance = _lines.Sum(l =>
        {
            var level = Math.Exp(l.LogLevelAhead(t));
            return l.Weight * ((l.LogVarianceAhead(t) * level * level) + ((level - mean) * (level - mean)));
        });
        return mean > 0 ? Math.Sqrt(variance) / mean : 0;
    }

    /// <summary>The projection of the UTC hour starting at <paramref name="hourStart"/>: its expected minutes and uncertainties.</summary>
    public HourProjection HourAt(DateTimeOffset hourStart)
    {
        var local = TimeZoneInfo.ConvertTimeFromUtc(hourStart.UtcDateTime, _zone);
        var day = DateOnly.FromDateTime(local);
        var (dayMinutes, relativeSd) = DayAhead(day);
        return new HourProjection(dayMinutes * ShareOfHour(day, local.Hour), relativeSd, dayMinutes * DailyNoise * DailyNoise, WeekOf(day), WeeklyNoise);
    }

    // A day's expected minutes and relative uncertainty (level and factor), the same for its 24 hours: computed once.
    private (double Minutes, double RelativeSd) DayAhead(DateOnly day)
    {
        if (_lastDay is { } cached && cached.Day == day)
        {
            return (cached.Minutes, cached.RelativeSd);
        }
        var levelSd = LevelUncertainty(day);
        var factorSd = FactorError[ClassOf(day, Calendar)];
        var computed = new DayCache(day, ExpectedDayMinutes(day), Math.Sqrt((levelSd * levelSd) + (factorSd * factorSd)));
        _lastDay = computed;
        return (computed.Minutes, computed.RelativeSd);
    }

    // The working-day level (factor 1) at day offset t from today; past days before a step get no step.
    private double LevelAt(int t)
    {
        if (_lines.Count == 0)
        {
            return _sparseLevel;
        }
        return Math.Max(0, _lines.Sum(l => l.Weight * Math.Exp(l.LogLevelAhead(t))) - _offset);
    }

    private static CalendarTrendModel Sparse(TimeZoneInfo zone, WorkCalendar calendar, DateOnly origin, List<Day> complete, List<Day> working, double[][] share)
    {
        // Too few minutes on too few days for a trend or a step: a flat level, its factors as ratios of class means,
        // and the working days' spread as the noise.
        var level = working.Average(d => d.Minutes);
        var factor = new double[Classes];
        for (var c = 0; c < Classes; c++)
        {
            var ofClass = complete.Where(d => d.Class == c).ToList();
            factor[c] = level <= 0 ? 0 : ofClass.Count > 0 ? ofClass.Average(d => d.Minutes) / level : double.NaN;
        }
        FillMissingFactors(factor);
        var sd = working.Count > 1 && level > 0 ? Math.Sqrt(working.Sum(d => (d.Minutes - level) * (d.Minutes - level)) / (working.Count - 1)) / level : 1;
        return new CalendarTrendModel(zone, calendar, origin, [], level, sd, 0, factor, share, null, complete.Count, 0);
    }

    // Every believable candidate — level; level and trend; level and a step at each working day that leaves enough days
    // on both sides — scored by a robust BIC (the bisquare loss at the tightest candidate's scale, plus log n per
    // parameter), and averaged with weights exp(−ΔBIC / 2): growth read as a
    // recent step, or a step as growth, then costs little, since both stay in the average as far as the data allow.
    // A change point counts as a parameter of its own, so a step pays for where it is as well as for its size. A trend
    // and a step together are not tried: they can offset each other to fit any busy week, and the trend is then
    // carried to the month's end. The likeliest model comes first.
    private static List<WeightedLine> Select(double[] t, double[] z)
    {
        var n = t.Length;
        var fits = new List<RobustLine>();
        void Consider(RobustLine? fit)
        {
            if (fit is null)
            {
                return;
            }
            if (!Believable(fit))
            {
                return;
            }
            fits.Add(fit);
        }
        Consider(RobustLine.Fit(t, z, trend: false, stepFrom: null));
        var trend = n >= MinimumDaysForTrend;
        if (trend)
        {
            Consider(RobustLine.Fit(t, z, trend: true, stepFrom: null));
        }
        for (var k = MinimumDaysBeforeStep; k <= n - MinimumDaysAfterStep; k++)
        {
            Consider(RobustLine.Fit(t, z, trend: false, stepFrom: k));
        }
        if (fits.Count == 0)
        {
            return [];
        }
        var scale = Math.Max(RobustLine.MinimumScale, fits.Min(f => f.Scale));
        var scored = fits.Select(f => (Line: f, Score: f.Loss(scale) + ((f.ParameterCount + (f.StepFrom is null ? 0 : 1)) * Math.Log(n)))).ToList();
        var bestScore = scored.Min(c => c.Score);
        // Candidates 14 BIC points or more behind (a thousandth of the best's weight) are dropped: they change no
        // forecast, and every hour projected would pay for them.
        var kept = scored.Where(c => c.Score - bestScore < NegligibleBic).ToList();
        var weights = kept.Select(c => Math.Exp(-(c.Score - bestScore) / 2)).ToArray();
        var total = weights.Sum();
        return [.. kept.Select((c, i) => new WeightedLine(c.Line, weights[i] / total)).OrderByDescending(l => l.Weight)];
    }

    // A trend or a step is only taken when the history makes it plain: trying a step at every day is many tries, and a
    // trend carried to the month's end multiplies any error in it. So a trend must be four standard errors from zero;
    // a step four, and at least 10 %; and the last working days must sit on the new level rather than be weighed out
    // as outliers (a spike that has just ended is not a new level).
    private static bool Believable(RobustLine fit)
    {
        if (fit.HasTrend && Math.Abs(fit.Slope) < MinimumTrendT * Math.Sqrt(fit.Covariance[1, 1]))
        {
            return false;
        }
        if (fit.StepFrom is null)
        {
            return true;
        }
        var last = fit.ParameterCount - 1;
        return Math.Abs(fit.Step) >= MinimumStepT * Math.Sqrt(fit.Covariance[last, last])
            && Math.Abs(fit.Step) >= MinimumStepSize
            && fit.Weights.TakeLast(MinimumDaysAfterStep).All(w => w >= 0.5);
    }

    // Monday-to-Sunday weeks: DateOnly's day number 0 is a Monday.
    private static int WeekOf(DateOnly day) => day.DayNumber / 7;

    // The variance of the weeks' mean residuals (outliers left out, weeks of at least three working days) less the
    // part their days' independent noise accounts for.
    private static double WeeklyNoiseOf(List<Day> working, RobustLine line)
    {
        var means = working
            .Select((day, i) => (Week: WeekOf(day.Date), Residual: line.Residuals[i], Weight: line.Weights[i]))
            .Where(p => p.Weight > 0)
            .GroupBy(p => p.Week)
            .Where(w => w.Count() >= 3)
            .Select(w => (Mean: w.Average(p => p.Residual), Count: w.Count()))
            .ToList();
        if (means.Count < 3)
        {
            return 0;
        }
        var grand = means.Average(m => m.Mean);
        var variance = means.Sum(m => (m.Mean - grand) * (m.Mean - grand)) / (means.Count - 1);
        var fromDays = line.Scale * line.Scale / means.Average(m => m.Count);
        return Math.Sqrt(Math.Max(0, variance - fromDays));
    }

    // Each class's factor and the factor's standard error as a fraction of it.
    private static (double[] Factor, double[] Error) Factors(List<Day> complete, List<Day> working, RobustLine line, double offset)
    {
        var stepStart = line.StepFrom is { } from ? working[from].T : int.MaxValue;
        var ratios = new List<double>[Classes];
        for (var c = 0; c < Classes; c++)
        {
            ratios[c] = [];
        }
        foreach (var day in complete)
        {
            var level = Math.Exp(line.At(day.T, day.T >= stepStart)) - offset;
            if (level > 0)
            {
                ratios[day.Class].Add(day.Minutes / level);
            }
        }
        var factor = new double[Classes];
        var error = new double[Classes];
        for (var c = 0; c < Classes; c++)
        {
            factor[c] = ratios[c].Count > 0 ? RobustLine.Median(ratios[c]) : double.NaN;
            // The median's standard error: 1.2533 σ / √n, σ from the ratios' median absolute deviation.
            var spread = ratios[c].Count > 1 && factor[c] > 0 ? 1.4826 * RobustLine.Median(ratios[c].Select(r => Math.Abs(r - factor[c]))) / factor[c] : 0;
            error[c] = ratios[c].Count > 0 ? 1.2533 * spread / Math.Sqrt(ratios[c].Count) : 0;
        }
        var weekdays = Enumerable.Range(1, 5).Where(c => factor[c] > 0).ToList();
        // Eight Mondays hardly tell a Monday from a Tuesday: each working day's difference from the others is kept in
        // proportion d² ÷ (d² + se²), so a difference the noise could make shrinks towards none, a plain one stays.
        foreach (var c in weekdays)
        {
            var d = Math.Log(factor[c]);
            factor[c] = Math.Exp(d * d * d / ((d * d) + (error[c] * error[c]) + 1e-12));
        }
        // The level is a working day's: the Monday–Friday factors keep a geometric mean of one.
        if (weekdays.Count > 0)
        {
            var mean = Math.Exp(weekdays.Average(c => Math.Log(factor[c])));
            foreach (var c in weekdays)
            {
                factor[c] /= mean;
            }
        }
        FillMissingFactors(factor);
        return (factor, error);
    }

    // A class the history never showed: a weekday is an ordinary working day, a weekend day is like the other weekend
    // day, and a closed day is like a Sunday (offices shut) until the history holds a holiday of its own.
    private static void FillMissingFactors(double[] factor)
    {
        for (var c = 1; c <= 5; c++)
        {
            factor[c] = double.IsNaN(factor[c]) ? 1 : factor[c];
        }
        var saturday = (int)DayOfWeek.Saturday;
        var sunday = (int)DayOfWeek.Sunday;
        if (double.IsNaN(factor[saturday]))
        {
            factor[saturday] = double.IsNaN(factor[sunday]) ? 0 : factor[sunday];
        }
        if (double.IsNaN(factor[sunday]))
        {
            factor[sunday] = factor[saturday];
        }
        if (double.IsNaN(factor[Closed]))
        {
            factor[Closed] = factor[sunday];
        }
    }

    // Each class's share of its day's minutes by local hour, from complete days. A class with too little to go on
    // borrows the shape of its kind (working days, or quiet days: weekends and closed days), then of all days, then flat.
    private static double[][] Shares(List<Day> complete)
    {
        static double[]? ShapeOf(IEnumerable<Day> days, int minimumDays)
        {
            var list = days.ToList();
            var sums = new double[24];
            foreach (var day in list)
            {
                for (var h = 0; h < 24; h++)
                {
                    sums[h] += day.Hours[h];
                }
            }
            var total = sums.Sum();
            return list.Count >= minimumDays && total > 0 ? sums.Select(s => s / total).ToArray() : null;
        }
        var all = ShapeOf(complete, 1) ?? Enumerable.Repeat(1.0 / 24, 24).ToArray();
        var workingShape = ShapeOf(complete.Where(d => d.Class is >= 1 and <= 5), 1) ?? all;
        var quietShape = ShapeOf(complete.Where(d => d.Class is 0 or 6 or Closed), 1) ?? all;
        var share = new double[Classes][];
        for (var c = 0; c < Classes; c++)
        {
            var kind = c is >= 1 and <= 5 ? workingShape : quietShape;
            share[c] = ShapeOf(complete.Where(d => d.Class == c), 2) ?? kind;
        }
        return share;
    }

    private static int ClassOf(DateOnly day, WorkCalendar calendar) =>
        day.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday) && calendar.IsClosed(day) ? Closed : (int)day.DayOfWeek;

    /// <summary>
    /// A candidate line and its weight in the average. Ahead of today, a step is believed in proportion to the working
    /// days it has lasted, fully from <see cref="StepFullBeliefDays"/> on: three days on a new level carry 3/8 of it.
    /// A busy week and a new department look alike for their first days; believing part of either keeps both errors
    /// smaller than a straight line's, and the part not believed widens the band.
    /// </summary>
    private sealed record WeightedLine(RobustLine Line, double Weight)
    {
        public double StepBelief => Line.StepFrom is { } from
            ? Math.Min(1, (Line.Residuals.Length - from) / (double)StepFullBeliefDays)
            : 0;

        /// <summary>The log level at day offset <paramref name="t"/> ahead, with the step as far as it is believed.</summary>
        public double LogLevelAhead(double t) => Line.At(t, stepped: false) + (StepBelief * Line.Step);

        /// <summary>The log level's variance ahead: the fit's, plus the step not believed, as one more standard deviation.</summary>
        public double LogVarianceAhead(double t) => Line.VarianceAt(t, stepped: true) + Math.Pow((1 - StepBelief) * Line.Step, 2);
    }

    private sealed record Day(DateOnly Date, int Class, double Minutes, double[] Hours, int T);

    private sealed record LocalDay(DateOnly Date, bool Complete, double Minutes, double[] Hours);

    // The whole UTC hours of [historyStart, now) as local days. The first day is complete only when the window opens
    // at its local midnight; the last when the window closes at the next one.
    private static List<LocalDay> LocalDays(IEnumerable<HourlyUsage> history, DateTimeOffset historyStart, DateTimeOffset now, TimeZoneInfo zone)
    {
        var first = HourlyRateProfile.FloorHour(historyStart.UtcTicks);
        if (first < historyStart.UtcTicks)
        {
            first += TimeSpan.TicksPerHour;
        }
        var end = HourlyRateProfile.FloorHour(now.UtcTicks);
        var minutes = new Dictionary<long, long>();
        foreach (var bucket in history)
        {
            var hour = HourlyRateProfile.FloorHour(bucket.HourStart.UtcTicks);
            if (hour >= first && hour < end)
            {
                minutes[hour] = minutes.GetValueOrDefault(hour) + bucket.Minutes;
            }
        }
        var days = new List<(DateOnly Date, double[] Hours)>();
        for (var hour = first; hour < end; hour += TimeSpan.TicksPerHour)
        {
            var local = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(hour, DateTimeKind.Utc), zone);
            var date = DateOnly.FromDateTime(local);
            if (days.Count == 0 || days[^1].Date != date)
            {
                days.Add((date, new double[24]));
            }
            days[^1].Hours[local.Hour] += minutes.GetValueOrDefault(hour);
        }
        if (days.Count == 0)
        {
            return [];
        }
        var startsAtMidnight = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(first, DateTimeKind.Utc), zone).TimeOfDay == TimeSpan.Zero;
        var endsAtMidnight = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(end, DateTimeKind.Utc), zone).TimeOfDay == TimeSpan.Zero;
        return [.. days.Select((d, i) => new LocalDay(d.Date,
            (i > 0 || startsAtMidnight) && (i < days.Count - 1 || endsAtMidnight), d.Hours.Sum(), d.Hours))];
    }
}

/// <summary>
/// One projected hour: its expected minutes, the level's uncertainty as a fraction of them (shared by every hour
/// ahead: a level misread is misread for all), its share of the day's noise variance, in minutes² per minute, and
/// its week with that week's own uncertainty as a fraction (shared by the hours of one week, independent between weeks).
/// </summary>
public readonly record struct HourProjection(double Minutes, double RelativeLevelSd, double NoiseVariancePerMinute, int Week, double WeeklyNoise);
