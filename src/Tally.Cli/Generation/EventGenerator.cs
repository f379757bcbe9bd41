using System.Globalization;
using Tally.Metering;

namespace Tally.Cli.Generation;

/// <summary>What to generate. Validated by <see cref="Validate"/> before a generator is built.</summary>
internal sealed record GeneratorOptions
{
    public int Events { get; init; } = 2_000_000;
    public int Users { get; init; } = 20_000;
    public int Apps { get; init; } = 300;
    public ulong Seed { get; init; } = 1;
    public Period Month { get; init; } = new(2026, 3);

    /// <summary>Consecutive months to fill, starting with <see cref="Month"/>: 2 shows a period reset in one log.</summary>
    public int Months { get; init; } = 1;

    /// <summary>Share of all events that are <c>scheduled-reload</c>s (no user).</summary>
    public double ReloadShare { get; init; } = 0.002;

    /// <summary>Share of engagement steps that are restricted (authoring) actions instead.</summary>
    public double RestrictedShare { get; init; } = 0.004;

    public string? Validate() =>
        Events < 0 ? "--events must not be negative"
        : Users < 1 ? "--users must be at least 1"
        : Apps < 1 ? "--apps must be at least 1"
        : Months is < 1 or > 12 ? "--months must be between 1 and 12"
        : ReloadShare is < 0 or > 1 ? "--reload-share must be between 0 and 1"
        : RestrictedShare is < 0 or > 1 ? "--restricted-share must be between 0 and 1"
        : null;
}

/// <summary>
/// One generated event before formatting. Time is whole seconds since the month's start (UTC); names are indexes
/// into <see cref="GeneratedMonth"/>'s tables, so a month of events is a few plain arrays.
/// </summary>
/// <param name="Second">Seconds since the start of the month.</param>
/// <param name="User">1-based user number; 0 for a scheduled reload.</param>
/// <param name="Device">0-based device of that user (ignored when <paramref name="User"/> is 0).</param>
/// <param name="App">1-based app number; 0 for heartbeat and logout.</param>
/// <param name="Action">What happened.</param>
internal readonly record struct GeneratedEvent(int Second, int User, byte Device, int App, MeterAction Action);

/// <summary>A generated month (or run of months): events in time order (ties in generation order) and the names to print them with.</summary>
internal sealed class GeneratedMonth(GeneratorOptions options, GeneratedEvent[] events)
{
    public GeneratorOptions Options { get; } = options;

    public GeneratedEvent[] Events { get; } = events;

    public long StartTicks { get; } = new DateTime(options.Month.Year, options.Month.Month, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    public int UserWidth { get; } = Math.Max(5, Digits(options.Users));

    public int AppWidth { get; } = Math.Max(4, Digits(options.Apps));

    public int IdWidth { get; } = Math.Max(7, Digits(options.Events));

    public string UserName(int user) => user == 0 ? "" : "u" + user.ToString(CultureInfo.InvariantCulture).PadLeft(UserWidth, '0');

    public string DeviceName(int user, int device) =>
        user == 0 ? "" : "d" + user.ToString(CultureInfo.InvariantCulture).PadLeft(UserWidth, '0') + "-" + (device + 1).ToString(CultureInfo.InvariantCulture);

    public string AppName(int app) => app == 0 ? "" : "app-" + app.ToString(CultureInfo.InvariantCulture).PadLeft(AppWidth, '0');

    /// <summary>The id of the event at <paramref name="index"/> (0-based) in time order: <c>e0000001</c>, ….</summary>
    public string IdOf(int index) => "e" + (index + 1).ToString(CultureInfo.InvariantCulture).PadLeft(IdWidth, '0');

    public long TicksOf(in GeneratedEvent e) => StartTicks + (e.Second * TimeSpan.TicksPerSecond);

    internal static int Digits(int value) => value < 10 ? 1 : 1 + Digits(value / 10);
}

/// <summary>
/// Generates a plausible month of engagement events. Pure and deterministic: the same options give the same
/// events on every machine and runtime, because every random draw comes from one seeded
/// <see cref="Xoshiro256"/> in a fixed order.
/// </summary>
/// <remarks>
/// The model: users (mildly skewed activity) open sessions on one of their 1–3 devices, mostly 8–18 on weekdays.
/// A session uses one to a few apps picked by a Zipf-like popularity; each app sees bursts of engagement a few
/// seconds apart, separated by idle gaps during which some clients send heartbeats. Apps are usually closed and
/// sessions usually end with a logout; some idle past the session timeout instead. Scheduled reloads of popular
/// apps run on the hour, mostly at night. Sessions are generated until exactly the requested number of events
/// exists; the last one is cut short if needed, and events that would fall past the month's end are dropped.
/// </remarks>
internal sealed class EventGenerator
{
    private const int SecondsPerHour = 3600;
    private static readonly MeterAction[] Restricted =
    [
        MeterAction.CreateSheet, MeterAction.EditSheet, MeterAction.PublishSheet,
        MeterAction.CreateApp, MeterAction.EditApp, MeterAction.PublishApp,
    ];

    // Engagement steps after open-app, by weight (per mille).
    private static readonly (MeterAction Action, int Weight)[] Steps =
    [
        (MeterAction.Select, 450), (MeterAction.Navigate, 260), (MeterAction.Insight, 80), (MeterAction.Reload, 60),
        (MeterAction.Profile, 50), (MeterAction.CreateBookmark, 50), (MeterAction.CreateStory, 25), (MeterAction.CreateSnapshot, 25),
    ];

    private readonly GeneratorOptions _options;
    private readonly Xoshiro256 _random;
    private readonly double[] _appCumulative;
    private readonly int[] _appByRank;
    private readonly double[] _userCumulative;
    private readonly double[] _hourCumulative;
    private readonly double[] _reloadHourCumulative;
    private readonly int _monthSeconds;

    public EventGenerator(GeneratorOptions options)
    {
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }
        _options = options;
        _random = new Xoshiro256(options.Seed);
        var start = new DateTime(options.Month.Year, options.Month.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var days = (int)(start.AddMonths(options.Months) - start).TotalDays;
        _monthSeconds = days * 86_400;
        _appCumulative = ZipfCumulative(options.Apps, 1.05);
        _appByRank = Shuffle(options.Apps);
        _userCumulative = ZipfCumulative(options.Users, 0.5);
        (_hourCumulative, _reloadHourCumulative) = HourWeights(start, days);
    }

    /// <summary>Generates the month: exactly <see cref="GeneratorOptions.Events"/> events, sorted by time.</summary>
    public GeneratedMonth Generate()
    {
        var total = _options.Events;
        var reloads = (int)Math.Round(total * _options.ReloadShare, MidpointRounding.ToEven);
        var events = new GeneratedEvent[total];
        var keys = new ulong[total];
        var count = 0;
        for (var i = 0; i < reloads; i++)
        {
            // Scheduled tasks fire on the hour; a few at half past.
            var hour = Sample(_reloadHourCumulative);
            var second = (hour * SecondsPerHour) + (_random.NextInt(8) == 0 ? 1800 : 0);
            Add(events, keys, ref count, new GeneratedEvent(second, 0, 0, PickApp(), MeterAction.ScheduledReload));
        }
        var sessionBuffer = new List<GeneratedEvent>(256);
        while (count < total)
        {
            sessionBuffer.Clear();
            Session(sessionBuffer);
            for (var i = 0; i < sessionBuffer.Count && count < total; i++)
            {
                Add(events, keys, ref count, sessionBuffer[i]);
            }
        }
        // Keys are (second, generation order), so the sort is total and the output does not depend on the sort's
        // stability: equal instants keep the order they were generated in.
        Array.Sort(keys, events);
        return new GeneratedMonth(_options, events);
    }

    private static void Add(GeneratedEvent[] events, ulong[] keys, ref int count, in GeneratedEvent e)
    {
        keys[count] = ((ulong)(uint)e.Second << 32) | (uint)count;
        events[count++] = e;
    }

    private void Session(List<GeneratedEvent> output)
    {
        var user = 1 + Sample(_userCumulative);
        var device = (byte)_random.NextInt(DevicesOf(user));
        var t = (Sample(_hourCumulative) * SecondsPerHour) + _random.NextInt(SecondsPerHour);
        var sendsHeartbeats = _random.NextInt(10) < 6;
        var apps = 1 + Geometric(0.45, 3);
        for (var a = 0; a < apps; a++)
        {
            var app = PickApp();
            if (!Emit(output, ref t, _random.NextInt(20), user, device, app, MeterAction.OpenApp))
            {
                return;
            }
            var bursts = 1 + Geometric(0.6, 12);
            for (var b = 0; b < bursts; b++)
            {
                var steps = 1 + Geometric(0.85, 60);
                for (var s = 0; s < steps; s++)
                {
                    if (!Emit(output, ref t, 2 + _random.NextInt(40), user, device, app, NextStep()))
                    {
                        return;
                    }
                }
                if (b == bursts - 1)
                {
                    break;
                }
                // Idle: mostly minutes, sometimes long enough for the session to time out (R6).
                var idle = _random.NextInt(20) == 0 ? 1800 + _random.NextInt(3600) : 60 + _random.NextInt(1200);
                // A client that is still open sends a heartbeat every five minutes; one that went to sleep sends none.
                var beats = sendsHeartbeats && idle < 1800 ? (idle - 1) / 300 : 0;
                for (var beat = 0; beat < beats; beat++)
                {
                    if (!Emit(output, ref t, 300, user, device, 0, MeterAction.Heartbeat))
                    {
                        return;
                    }
                }
                t += idle - (beats * 300);
            }
            if (_random.NextInt(10) < 7 && !Emit(output, ref t, 1 + _random.NextInt(30), user, device, app, MeterAction.CloseApp))
            {
                return;
            }
        }
        if (_random.NextInt(10) < 6)
        {
            Emit(output, ref t, 1 + _random.NextInt(10), user, device, 0, MeterAction.Logout);
        }
    }

    private bool Emit(List<GeneratedEvent> output, ref int t, int after, int user, byte device, int app, MeterAction action)
    {
        t += after;
        if (t >= _monthSeconds)
        {
            return false;
        }
        output.Add(new GeneratedEvent(t, user, device, app, action));
        return true;
    }

    private MeterAction NextStep()
    {
        if (_random.NextDouble() < _options.RestrictedShare)
        {
            return Restricted[_random.NextInt(Restricted.Length)];
        }
        var roll = _random.NextInt(1000);
        foreach (var (action, weight) in Steps)
        {
            if (roll < weight)
            {
                return action;
            }
            roll -= weight;
        }
        return MeterAction.Select;
    }

    private int PickApp() => _appByRank[Sample(_appCumulative)];

    /// <summary>1–3 devices per user: 55 % one, 30 % two, 15 % three. A function of the user, not of the draw order.</summary>
    internal static int DevicesOf(int user)
    {
        var h = Xoshiro256.Mix((ulong)user * 0x9E3779B97F4A7C15UL) % 100;
        return h < 55 ? 1 : h < 85 ? 2 : 3;
    }

    /// <summary>Failures before the first success with continuation probability <paramref name="p"/>, capped.</summary>
    private int Geometric(double p, int cap)
    {
        var n = 0;
        while (n < cap && _random.NextDouble() < p)
        {
            n++;
        }
        return n;
    }

    private int Sample(double[] cumulative)
    {
        var u = _random.NextDouble() * cumulative[^1];
        var index = Array.BinarySearch(cumulative, u);
        index = index < 0 ? ~index : index + 1;
        return Math.Min(index, cumulative.Length - 1);
    }

    private static double[] ZipfCumulative(int n, double exponent)
    {
        var cumulative = new double[n];
        var sum = 0.0;
        for (var rank = 1; rank <= n; rank++)
        {
            sum += 1.0 / Math.Pow(rank, exponent);
            cumulative[rank - 1] = sum;
        }
        return cumulative;
    }

    /// <summary>1..n in a seeded order, so the most popular app is not always app 1.</summary>
    private int[] Shuffle(int n)
    {
        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i + 1;
        }
        for (var i = n - 1; i > 0; i--)
        {
            var j = _random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static (double[] Sessions, double[] Reloads) HourWeights(DateTime start, int days)
    {
        // Relative session starts per hour of a weekday; weekends run at a tenth with a flatter day.
        ReadOnlySpan<double> weekday =
        [
            0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.25, 0.9, 1.0, 1.0, 0.95,
            0.6, 0.9, 1.0, 0.95, 0.85, 0.6, 0.3, 0.12, 0.08, 0.05, 0.03, 0.02,
        ];
        var sessions = new double[days * 24];
        var reloads = new double[days * 24];
        double sessionSum = 0, reloadSum = 0;
        for (var day = 0; day < days; day++)
        {
            var dayOfWeek = start.AddDays(day).DayOfWeek;
            var weekend = dayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
            for (var hour = 0; hour < 24; hour++)
            {
                var w = weekend ? 0.1 * Math.Max(0.05, weekday[hour] * 0.6) : weekday[hour];
                sessionSum += w;
                sessions[(day * 24) + hour] = sessionSum;
                reloadSum += hour is >= 1 and <= 5 ? 1.0 : 0.15;
                reloads[(day * 24) + hour] = reloadSum;
            }
        }
        return (sessions, reloads);
    }
}

/// <summary>
/// xoshiro256** seeded by SplitMix64: small, fast and specified bit for bit, so generated files do not change with
/// the .NET version the way an unspecified library generator could.
/// </summary>
internal sealed class Xoshiro256
{
    private ulong _s0, _s1, _s2, _s3;

    public Xoshiro256(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    public ulong Next()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, <paramref name="n"/>) by multiply-shift (bias below 2^-32, irrelevant here).</summary>
    public int NextInt(int n) => (int)(((Next() >> 32) * (ulong)n) >> 32);

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong SplitMix(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        return Mix(x);
    }
}
