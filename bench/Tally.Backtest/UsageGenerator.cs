using PublicHoliday;
using Tally.Metering;

namespace Tally.Backtest;

/// <summary>What kind of local day it is for an office in France.</summary>
public enum DayKind
{
    Working,
    /// <summary>A working day between a public holiday and a weekend ("faire le pont"): many take it off.</summary>
    Bridge,
    Saturday,
    Sunday,
    Holiday,
}

/// <summary>The inputs of a generation: the base population, the seed, the license's zone and the first local day.</summary>
public sealed record GeneratorSettings(int Users, int Seed, TimeZoneInfo Zone, DateOnly HistoryStart)
{
    public static TimeZoneInfo Paris { get; } = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
}

/// <summary>One local day of events in time order, and what the generator intended for it (for tests and the report).</summary>
public sealed record GeneratedDay(DateOnly Day, DayKind Kind, int Users, MeterEvent[] Events);

/// <summary>
/// A realistic, seeded stream of engagement events for an office of analysts in Europe/Paris, one local day at a time
/// so a four-month history never sits in memory. Each user has a heavy-tailed propensity (lognormal sessions per
/// working day: many occasional users, a few power users), favourite apps, and a session length of their own. Sessions
/// start around office hours with a lunch dip; nights, weekends and French public holidays are quiet but not empty;
/// the whole office is a little busier or quieter from day to day. A session is an open-app followed by selections a
/// few minutes apart, sometimes a switch of app, sometimes a pause long enough to start a new unit.
/// Determinism: user traits come from the seed, each day's draws from (seed, day), so the same seed gives the same
/// events whatever was generated before, and every scenario shares the same users.
/// </summary>
public sealed class UsageGenerator
{
    /// <summary>Apps in the tenant; popularity is Zipf-like, so a handful of apps see most of the use.</summary>
    public const int AppCount = 60;

    // Relative weight of a session starting in each local hour. Working days: arrivals from 08:00, a lunch dip
    // 12:00–14:00, tapering after 18:00; nights near zero but not zero (on-call, other time zones).
    private static readonly double[] WorkingHourWeights =
        [0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.7, 1.0, 1.0, 0.9, 0.45, 0.6, 1.0, 1.0, 0.9, 0.65, 0.3, 0.12, 0.06, 0.04, 0.02, 0.015];

    // Weekends and holidays: whoever works does it late morning to evening, flatter.
    private static readonly double[] RestHourWeights =
        [0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.1, 0.3, 0.7, 1.0, 1.0, 0.7, 0.8, 1.0, 1.0, 1.0, 0.9, 0.7, 0.5, 0.4, 0.3, 0.1, 0.05];

    private readonly GeneratorSettings _settings;
    private readonly Scenario _scenario;
    private readonly UserTraits[] _users;
    private readonly IPublicHolidays _holidays = PublicHolidayFactory.GetPublicHolidayForCountry("FR");
    private readonly Dictionary<int, HashSet<DateOnly>> _holidaysByYear = [];

    public UsageGenerator(GeneratorSettings settings, Scenario scenario)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Users, 1);
        _settings = settings;
        _scenario = scenario;
        var random = new Random(settings.Seed);
        _users = new UserTraits[Scenario.MaxUsers(settings.Users)];
        for (var i = 0; i < _users.Length; i++)
        {
            _users[i] = UserTraits.Draw(random);
        }
    }

    /// <summary>Whether the local day is a French public holiday (by the same library the forecaster's calendar uses).</summary>
    public bool IsHoliday(DateOnly day)
    {
        if (!_holidaysByYear.TryGetValue(day.Year, out var set))
        {
            set = _holidays.PublicHolidays(day.Year).Select(DateOnly.FromDateTime).ToHashSet();
            _holidaysByYear[day.Year] = set;
        }
        return set.Contains(day);
    }

    public DayKind KindOf(DateOnly day) =>
        IsHoliday(day) ? DayKind.Holiday
        : day.DayOfWeek == DayOfWeek.Saturday ? DayKind.Saturday
        : day.DayOfWeek == DayOfWeek.Sunday ? DayKind.Sunday
        : (day.DayOfWeek == DayOfWeek.Friday && IsHoliday(day.AddDays(-1))) || (day.DayOfWeek == DayOfWeek.Monday && IsHoliday(day.AddDays(1)))
            ? DayKind.Bridge
            : DayKind.Working;

    /// <summary>The share of a working day's sessions that happen on a day of this kind: most users are off on a holiday, like on a Sunday.</summary>
    public static double Presence(DayKind kind) => kind switch
    {
        DayKind.Working => 1.0,
        DayKind.Bridge => 0.55,
        DayKind.Saturday => 0.06,
        DayKind.Sunday => 0.035,
        _ => 0.04,
    };

    /// <summary>
    /// The events of local days <c>[from, toExclusive)</c>, a day at a time, each in time order and every event after
    /// the previous day's (a session that runs past midnight is carried into the next day's batch), ready to meter.
    /// </summary>
    public IEnumerable<GeneratedDay> Days(DateOnly from, DateOnly toExclusive)
    {
        var carried = new List<PendingEvent>();
        var sequence = 0L;
        for (var day = from; day < toExclusive; day = day.AddDays(1))
        {
            var events = carried;
            carried = [];
            var kind = KindOf(day);
            var users = _scenario.UsersOn(day, _settings.Users);
            var random = new Random(DaySeed(_settings.Seed, day));
            // The whole office's mood of the day: deadlines, meetings, the weather.
            var officeNoise = Math.Exp(0.08 * Gaussian(random));
            var dayFactor = Presence(kind) * _scenario.Intensity(day, _settings.HistoryStart) * officeNoise;
            var weights = kind is DayKind.Working or DayKind.Bridge ? WorkingHourWeights : RestHourWeights;
            var localMidnight = day.ToDateTime(TimeOnly.MinValue);
            for (var u = 0; u < users; u++)
            {
                var traits = _users[u];
                var sessions = Poisson(random, traits.SessionsPerWorkingDay * dayFactor);
                for (var s = 0; s < sessions; s++)
                {
                    var hour = PickHour(random, weights);
                    var local = localMidnight.AddHours(hour).AddSeconds(random.Next(3600));
                    if (_settings.Zone.IsInvalidTime(local))
                    {
                        // The spring-forward hour does not exist on the wall clock: start just after it.
                        local = local.AddHours(1);
                    }
                    var start = TimeZoneInfo.ConvertTimeToUtc(local, _settings.Zone).Ticks;
                    AddSession(events, random, traits, u + 1, start, ref sequence);
                }
            }

            var nextMidnight = TimeZoneInfo.ConvertTimeToUtc(day.AddDays(1).ToDateTime(TimeOnly.MinValue), _settings.Zone).Ticks;
            events.Sort(static (a, b) => a.Ticks != b.Ticks ? a.Ticks.CompareTo(b.Ticks) : a.Sequence.CompareTo(b.Sequence));
            var split = events.FindIndex(e => e.Ticks >= nextMidnight);
            if (split >= 0)
            {
                carried = events.GetRange(split, events.Count - split);
                events.RemoveRange(split, events.Count - split);
            }
            yield return new GeneratedDay(day, kind, users, events.Select(e => new MeterEvent(e.Ticks, e.User, 0, e.App, e.Action)).ToArray());
        }
    }

    private static void AddSession(List<PendingEvent> events, Random random, UserTraits traits, int user, long startTicks, ref long sequence)
    {
        var app = traits.Apps[random.Next(traits.Apps.Length)];
        var t = startTicks;
        events.Add(new PendingEvent(t, sequence++, user, app, MeterAction.OpenApp));
        // Geometric number of further interactions, with the user's own mean.
        var more = (int)Math.Floor(Math.Log(1 - random.NextDouble()) / Math.Log(1 - (1 / (1 + traits.EventsPerSession))));
        more = Math.Min(more, 120);
        for (var i = 0; i < more; i++)
        {
            // Mostly a selection every couple of minutes; now and then a coffee or a call long enough to start a new unit.
            var gapMinutes = random.NextDouble() < 0.08 ? 7 + (random.NextDouble() * 15) : Math.Max(0.25, -2.2 * Math.Log(1 - random.NextDouble()));
            t += (long)(gapMinutes * TimeSpan.TicksPerMinute);
            var roll = random.NextDouble();
            if (roll < 0.12 && traits.Apps.Length > 1)
            {
                app = traits.Apps[random.Next(traits.Apps.Length)];
                events.Add(new PendingEvent(t, sequence++, user, app, MeterAction.OpenApp));
            }
            else
            {
                var action = roll < 0.7 ? MeterAction.Select : roll < 0.93 ? MeterAction.Navigate : roll < 0.97 ? MeterAction.Insight : MeterAction.CreateBookmark;
                events.Add(new PendingEvent(t, sequence++, user, app, action));
            }
        }
        if (random.NextDouble() < 0.5)
        {
            events.Add(new PendingEvent(t + TimeSpan.TicksPerSecond * random.Next(5, 120), sequence++, user, app, MeterAction.CloseApp));
        }
    }

    private static int PickHour(Random random, double[] weights)
    {
        var total = 0.0;
        foreach (var w in weights)
        {
            total += w;
        }
        var x = random.NextDouble() * total;
        for (var h = 0; h < weights.Length; h++)
        {
            x -= weights[h];
            if (x < 0)
            {
                return h;
            }
        }
        return weights.Length - 1;
    }

    /// <summary>Knuth's method: the means here are small (a user's sessions in a day).</summary>
    private static int Poisson(Random random, double mean)
    {
        if (mean <= 0)
        {
            return 0;
        }
        var limit = Math.Exp(-mean);
        var k = 0;
        var p = random.NextDouble();
        while (p > limit)
        {
            k++;
            p *= random.NextDouble();
        }
        return k;
    }

    internal static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>SplitMix64 of (seed, day): HashCode is randomised per process, so it cannot seed a reproducible run.</summary>
    private static int DaySeed(int seed, DateOnly day)
    {
        var z = unchecked(((ulong)(uint)seed << 32) ^ (ulong)day.DayNumber) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }

    private readonly record struct PendingEvent(long Ticks, long Sequence, int User, int App, MeterAction Action);

    /// <summary>What makes one user unlike another; drawn once per user from the seed.</summary>
    private sealed record UserTraits(double SessionsPerWorkingDay, double EventsPerSession, int[] Apps)
    {
        public static UserTraits Draw(Random random)
        {
            // Lognormal propensity, median 0.55 sessions per working day, σ 1.1: a third of users come by a couple of
            // times a week, the top one percent open something seven or more times a day.
            var sessions = Math.Min(12, 0.55 * Math.Exp(1.1 * Gaussian(random)));
            var events = Math.Clamp(4 * Math.Exp(0.5 * Gaussian(random)), 1, 25);
            var appCount = 1 + random.Next(4);
            var apps = new int[appCount];
            for (var i = 0; i < appCount; i++)
            {
                apps[i] = ZipfApp(random);
            }
            return new UserTraits(sessions, events, apps);
        }

        // Weight 1/rank: inverse of the harmonic CDF by a linear scan (60 apps, drawn once per user's favourite).
        private static int ZipfApp(Random random)
        {
            var harmonic = 0.0;
            for (var r = 1; r <= AppCount; r++)
            {
                harmonic += 1.0 / r;
            }
            var x = random.NextDouble() * harmonic;
            for (var r = 1; r <= AppCount; r++)
            {
                x -= 1.0 / r;
                if (x < 0)
                {
                    return r;
                }
            }
            return AppCount;
        }
    }
}
