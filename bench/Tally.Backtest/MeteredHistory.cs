using Tally.Metering;
using Tally.Storage;

namespace Tally.Backtest;

/// <summary>
/// The units a scenario's events started, as the real meter charged them: start instants in time order with their
/// minutes and running totals, so any window's minutes, hourly buckets or the instant a total is reached is a binary
/// search away. About 16 bytes per unit: a four-month history of 3,000 users is a few million units, not millions of objects.
/// </summary>
public sealed class MeteredHistory
{
    private readonly long[] _starts;
    private readonly long[] _cumulative;

    private MeteredHistory(long[] starts, long[] cumulative, long firstEventTicks, long events)
    {
        _starts = starts;
        _cumulative = cumulative;
        FirstEventTicks = firstEventTicks;
        Events = events;
    }

    public long FirstEventTicks { get; }

    public long Events { get; }

    public int Units => _starts.Length;

    /// <summary>
    /// Meters every generated day through one <see cref="Meter"/>. The meter runs without a pool: overage is unlimited
    /// in every scenario, so no unit is ever refused and the units do not depend on the included minutes, which are
    /// chosen afterwards from the actual totals.
    /// </summary>
    public static MeteredHistory Meter(IEnumerable<GeneratedDay> days, TimeZoneInfo zone, int unitMinutes = MeterOptions.DefaultUnitMinutes)
    {
        ArgumentNullException.ThrowIfNull(days);
        var meter = new Meter(new MeterOptions { TimeZone = zone, UnitMinutes = unitMinutes });
        var sink = new UnitSink();
        long first = long.MaxValue, events = 0;
        foreach (var day in days)
        {
            foreach (var e in day.Events)
            {
                first = Math.Min(first, e.TimeTicks);
                meter.Apply(e, sink);
                events++;
            }
        }
        var starts = sink.Starts.ToArray();
        var minutes = sink.Minutes.ToArray();
        // Units start at their event's instant and events are in time order, so this is already sorted; a stable
        // sort keeps that an assumption the binary searches cannot silently break.
        if (!starts.AsSpan().SequenceEqual(starts.Order().ToArray()))
        {
            Array.Sort(starts, minutes);
        }
        var cumulative = new long[starts.Length + 1];
        for (var i = 0; i < starts.Length; i++)
        {
            cumulative[i + 1] = cumulative[i] + minutes[i];
        }
        return new MeteredHistory(starts, cumulative, first == long.MaxValue ? 0 : first, events);
    }

    /// <summary>Pool minutes of the units that started in <c>[from, to)</c> (UTC ticks).</summary>
    public long MinutesBetween(long from, long to) => _cumulative[LowerBound(to)] - _cumulative[LowerBound(from)];

    public int UnitsBetween(long from, long to) => Math.Max(0, LowerBound(to) - LowerBound(from));

    /// <summary>Pool minutes per UTC hour of the units that started in <c>[from, to)</c>, as the ledger's query and <c>tally report FILE</c> give them.</summary>
    public IReadOnlyList<HourlyMinutes> Hourly(long from, long to)
    {
        var hours = new List<HourlyMinutes>();
        for (var i = LowerBound(from); i < _starts.Length && _starts[i] < to; i++)
        {
            var hour = _starts[i] - (_starts[i] % TimeSpan.TicksPerHour);
            var minutes = _cumulative[i + 1] - _cumulative[i];
            if (hours.Count > 0 && hours[^1].HourStartTicks == hour)
            {
                hours[^1] = new HourlyMinutes(hour, hours[^1].Minutes + minutes);
            }
            else
            {
                hours.Add(new HourlyMinutes(hour, minutes));
            }
        }
        return hours;
    }

    /// <summary>
    /// The start of the unit that made the minutes started in <c>[from, to)</c> reach <paramref name="threshold"/>,
    /// or null when they never do inside the window.
    /// </summary>
    public DateTimeOffset? ReachedAt(long from, long to, long threshold)
    {
        var lo = LowerBound(from);
        var hi = LowerBound(to);
        if (_cumulative[hi] - _cumulative[lo] < threshold)
        {
            return null;
        }
        // The first unit i in [lo, hi) with cumulative[i + 1] − cumulative[lo] ≥ threshold.
        var target = _cumulative[lo] + threshold;
        int a = lo, b = hi - 1;
        while (a < b)
        {
            var mid = (a + b) / 2;
            if (_cumulative[mid + 1] >= target)
            {
                b = mid;
            }
            else
            {
                a = mid + 1;
            }
        }
        return new DateTimeOffset(_starts[a], TimeSpan.Zero);
    }

    private int LowerBound(long ticks)
    {
        int a = 0, b = _starts.Length;
        while (a < b)
        {
            var mid = (a + b) / 2;
            if (_starts[mid] < ticks)
            {
                a = mid + 1;
            }
            else
            {
                b = mid;
            }
        }
        return a;
    }

    /// <summary>Keeps what FromFile keeps of a unit: its start and minutes, for units that charged the pool.</summary>
    private sealed class UnitSink : IDecisionSink
    {
        public List<long> Starts { get; } = [];
        public List<int> Minutes { get; } = [];

        public void Add(in MeterEvent e, in Decision decision)
        {
            if (decision.StartsUnit && decision.Minutes > 0)
            {
                Starts.Add(decision.UnitStartTicks);
                Minutes.Add(decision.Minutes);
            }
        }
    }
}
