using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Tally.Metering;

namespace Tally.Benchmarks;

/// <summary>
/// <c>Meter.Apply</c> for a covered event: same key, inside the running unit. This is what most events are, and the
/// path that must not allocate. The baseline is a plain dictionary lookup and update on the same key.
/// </summary>
[MemoryDiagnoser]
public class CoveredBenchmarks
{
    private const int Batch = 4096;

    private readonly long[] _counts = new long[8];
    private MeterEvent[] _events = [];
    private Meter _meter = null!;
    private Dictionary<long, long> _baseline = [];

    [Params(CountingMode.Device, CountingMode.App)]
    public CountingMode Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var t0 = new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
        _meter = new Meter(new MeterOptions { Mode = Mode });
        _meter.Apply(MeterEvent.At(t0, 1, 1, 1, MeterAction.OpenApp), new CountingSink(_counts));
        // All at one instant inside the running unit, so every invocation stays in time order and stays covered.
        var t = t0.AddSeconds(30);
        _events = new MeterEvent[Batch];
        for (var i = 0; i < Batch; i++)
        {
            _events[i] = MeterEvent.At(t, 1, 1, 1, (i % 3) switch { 0 => MeterAction.Select, 1 => MeterAction.Navigate, _ => MeterAction.Insight });
        }
        _baseline = new() { [new MeterKey(1, 1).Packed] = t0.UtcTicks + DictionaryBaseline.UnitTicks };
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public long MeterApply()
    {
        var sink = new CountingSink(_counts);
        var meter = _meter;
        foreach (ref readonly var e in _events.AsSpan())
        {
            meter.Apply(e, sink);
        }
        return _counts[(int)DecisionKind.Covered];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public long DictionaryLoop() => DictionaryBaseline.Run(_baseline, _events);
}

/// <summary>
/// <c>Meter.Apply</c> replaying a generated month (2,000,000 events, 20,000 users, 300 apps) with a fresh meter per
/// invocation: events must not go back in time, and per-key state is built up as in a real import. Allocation per
/// event is therefore the state the month needs (sessions, users, connections, accepted ids) spread over its events.
/// The baseline keeps one dictionary entry per (user, device) and does one lookup and update per event.
/// </summary>
[MemoryDiagnoser]
public class MixBenchmarks
{
    private const int Events = 2_000_000;

    private readonly long[] _counts = new long[8];
    private MeterEvent[] _events = [];

    /// <summary>Whether events carry ids, which the meter deduplicates (R10).</summary>
    [Params(false, true)]
    public bool Ids { get; set; }

    [GlobalSetup]
    public void Setup() => _events = GeneratedEvents.Create(Events, Ids);

    [Benchmark(OperationsPerInvoke = Events)]
    public long MeterApply()
    {
        var sink = new CountingSink(_counts);
        var meter = new Meter(new MeterOptions());
        foreach (ref readonly var e in _events.AsSpan())
        {
            meter.Apply(e, sink);
        }
        return meter.KeyCount;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Events)]
    public long DictionaryLoop() => DictionaryBaseline.Run([], _events);

    /// <summary>What <c>tally meter</c> does after parsing: ordered replay, duplicate marking, and a usage tally as sink.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public long ReplayWithUsageTally()
    {
        var options = new MeterOptions();
        var tally = new UsageTally(options);
        Replay.Run(_events, new Meter(options), tally, tally.CountEvent);
        return tally.Units;
    }
}

internal static class DictionaryBaseline
{
    public static readonly long UnitTicks = TimeSpan.FromMinutes(MeterOptions.DefaultUnitMinutes).Ticks;

    /// <summary>R3 reduced to its core: one entry per (user, device) holding the running unit's end.</summary>
    public static long Run(Dictionary<long, long> unitEnds, MeterEvent[] events)
    {
        long charged = 0;
        foreach (ref readonly var e in events.AsSpan())
        {
            ref var end = ref CollectionsMarshal.GetValueRefOrAddDefault(unitEnds, new MeterKey(e.User, e.Device).Packed, out _);
            if (e.TimeTicks >= end)
            {
                end = e.TimeTicks + UnitTicks;
                charged++;
            }
        }
        return charged;
    }
}
