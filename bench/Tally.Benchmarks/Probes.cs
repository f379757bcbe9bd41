using System.Diagnostics;
using System.Globalization;
using Tally.Cli.Generation;
using Tally.Metering;

namespace Tally.Benchmarks;

/// <summary>Bytes of meter state per live key: first events for N distinct keys, measured with a full GC either side.</summary>
internal static class MemoryProbe
{
    public static void Run(int keys)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Live-key memory, {keys:N0} keys (GC.GetTotalMemory(true) after - before) / keys"));
        // Warm the code paths once so JIT and static state are not counted.
        Measure(1000, CountingMode.Device, 1, 1);
        Report("device mode, 1 device per user (every key a new user)", Measure(keys, CountingMode.Device, 1, 1), keys);
        Report("device mode, 2 devices per user", Measure(keys, CountingMode.Device, 2, 1), keys);
        Report("app mode, 1 app per user (every key a new user)", Measure(keys, CountingMode.App, 1, 1), keys);
        Report("app mode, 4 apps per user", Measure(keys, CountingMode.App, 1, 4), keys);
    }

    private static void Report(string label, long bytes, int keys) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label,-55} {bytes / (double)keys,8:F1} B/key"));

    private static long Measure(int keys, CountingMode mode, int devicesPerUser, int appsPerUser)
    {
        var perUser = mode == CountingMode.Device ? devicesPerUser : appsPerUser;
        var t0 = new DateTime(2026, 3, 2, 9, 0, 0, DateTimeKind.Utc).Ticks;
        var events = new MeterEvent[keys];
        for (var k = 0; k < keys; k++)
        {
            var user = (k / perUser) + 1;
            var device = mode == CountingMode.Device ? (k % perUser) + 1 : 1;
            var app = mode == CountingMode.App ? (k % perUser) + 1 : (k % 300) + 1;
            events[k] = new MeterEvent(t0 + k, user, device, app, MeterAction.OpenApp);
        }
        var counts = new long[8];
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var meter = new Meter(new MeterOptions { Mode = mode });
        var sink = new CountingSink(counts);
        foreach (ref readonly var e in events.AsSpan())
        {
            meter.Apply(e, sink);
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        if (meter.KeyCount != keys || counts[(int)DecisionKind.Charged] != keys)
        {
            throw new InvalidOperationException($"expected {keys} keys, meter has {meter.KeyCount}");
        }
        GC.KeepAlive(meter);
        GC.KeepAlive(events);
        return after - before;
    }
}

/// <summary>
/// Bytes the meter spends per accepted event id (issue 14), old and new side by side in one run. Old: what the meter
/// kept until issue 14, rebuilt here (a <c>HashSet&lt;string&gt;</c> holding each id's string, which a request brought and the
/// set kept alive, plus a queue of (ticks, id) with a window). New: the meter itself, fed N events on one key, each with
/// a new id, minus the same meter fed the same events without ids, so only the ids' cost is left.
/// </summary>
internal static class IdMemoryProbe
{
    private static readonly long T0 = new DateTime(2026, 3, 2, 9, 0, 0, DateTimeKind.Utc).Ticks;

    public static void Run(int ids)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Accepted-id memory, {ids:N0} ids (GC.GetTotalMemory(true) after - before) / ids"));
        Measure(1000, i => "w" + i, window: null); // warm-up: JIT and static state are not counted
        Report("short ids (8 chars, as `tally generate` writes)", ids, i => "e" + (i + 1).ToString("D7", CultureInfo.InvariantCulture), window: null);
        Report("GUID ids (36 chars, as a client library sends)", ids, i => new Guid(i, 0, 0, new byte[8]).ToString(), window: null);
        Report("GUID ids, IdMemory 48 h, every id inside it", ids, i => new Guid(i, 0, 0, new byte[8]).ToString(), TimeSpan.FromHours(48));
        SteadyWindow(ids, TimeSpan.FromHours(48), windows: 3, instants: 16);
    }

    /// <summary>
    /// A window that has turned over: one id every window/<paramref name="ids"/> for <paramref name="windows"/> windows,
    /// so the meter accepts and forgets at the same pace, as a tenant older than its window does. At
    /// <paramref name="instants"/> instants through the last window: the meter's bytes (a full GC, minus the same meter
    /// fed the same events without ids) over the ids inside the window then. Meter only: the ids are made as they are
    /// applied and left to the GC, as the server's requests leave them.
    /// </summary>
    private static void SteadyWindow(int ids, TimeSpan window, int windows, int instants)
    {
        var spacing = window.Ticks / ids;
        var baseline = SteadyMeterBytes(ids, window, windows, spacing, withIds: false, instants: 1)[0];
        var perId = SteadyMeterBytes(ids, window, windows, spacing, withIds: true, instants)
            .Select(bytes => (bytes - baseline) / (double)(ids + 1)) // the window's ids, both ends included
            .ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {$"GUID ids, IdMemory 48 h, {windows} windows of ids, steady",-50} new {perId.Min(),6:F1}–{perId.Max():F1} B/id inside it ({instants} instants of the last window; mean {perId.Average():F1})"));
    }

    private static List<long> SteadyMeterBytes(int ids, TimeSpan window, int windows, long spacing, bool withIds, int instants)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var meter = new Meter(new MeterOptions()) { IdMemory = window };
        var sink = new CountingSink(new long[8]);
        var total = (long)ids * windows;
        var sampleEvery = ids / instants;
        var bytes = new List<long>();
        for (var i = 0L; i < total; i++)
        {
            var id = withIds ? new Guid((int)i, (short)(i >> 32), 0, new byte[8]).ToString() : null;
            meter.ApplyNew(new MeterEvent(T0 + (i * spacing), 1, 1, 1, i == 0 ? MeterAction.OpenApp : MeterAction.Select, id), sink);
            if (i >= total - ids && (total - 1 - i) % sampleEvery == 0 && bytes.Count < instants)
            {
                bytes.Add(GC.GetTotalMemory(forceFullCollection: true) - before);
            }
        }
        GC.KeepAlive(meter);
        return bytes;
    }

    private static void Report(string label, int ids, Func<int, string> idOf, TimeSpan? window)
    {
        var (old, fresh) = Measure(ids, idOf, window);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label,-50} old {old / (double)ids,6:F1} B/id   new {fresh / (double)ids,6:F1} B/id"));
    }

    private static (long Old, long New) Measure(int ids, Func<int, string> idOf, TimeSpan? window)
    {
        var names = new string[ids];
        for (var i = 0; i < ids; i++)
        {
            names[i] = idOf(i);
        }
        var withIds = new MeterEvent[ids];
        var withoutIds = new MeterEvent[ids];
        for (var i = 0; i < ids; i++)
        {
            withoutIds[i] = new MeterEvent(T0 + i, 1, 1, 1, i == 0 ? MeterAction.OpenApp : MeterAction.Select);
            withIds[i] = withoutIds[i] with { Id = names[i] };
        }
        var counts = new long[8];

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var oldSet = new HashSet<string>(StringComparer.Ordinal);
        var oldQueue = new Queue<(long Ticks, string Id)>();
        for (var i = 0; i < ids; i++)
        {
            var id = new string(names[i].AsSpan()); // the string a request brought, kept alive by the set
            oldSet.Add(id);
            if (window is not null)
            {
                oldQueue.Enqueue((T0 + i, id));
            }
        }
        var old = GC.GetTotalMemory(forceFullCollection: true) - before;
        GC.KeepAlive(oldSet);
        GC.KeepAlive(oldQueue);

        var fresh = MeterBytes(withIds, window, counts) - MeterBytes(withoutIds, window, counts);
        GC.KeepAlive(names);
        return (old, fresh);
    }

    private static long MeterBytes(MeterEvent[] events, TimeSpan? window, long[] counts)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var meter = new Meter(new MeterOptions()) { IdMemory = window };
        var sink = new CountingSink(counts);
        foreach (ref readonly var e in events.AsSpan())
        {
            meter.ApplyNew(e, sink);
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        if (events[0].Id is not null && meter.RememberedIds != events.Length)
        {
            throw new InvalidOperationException($"expected {events.Length} ids, meter remembers {meter.RememberedIds}");
        }
        GC.KeepAlive(meter);
        return after - before;
    }
}

/// <summary>
/// The realistic mix (2M generated events, a fresh meter per run) with and without ids, and the id check as it was until
/// issue 14 (an ordinal set of the id strings, then the meter without ids), in alternating rounds; the fastest of the
/// rounds after the first is reported, which on a shared machine is the figure least disturbed by other work. Written
/// against the meter's API of before and after the change, so the same probe runs on both commits.
/// </summary>
internal static class IdSpeedProbe
{
    public static void Run(int count)
    {
        var withIds = GeneratedEvents.Create(count, true);
        var withoutIds = withIds.Select(e => e with { Id = null }).ToArray();
        var counts = new long[8];
        var cases = new (string Label, Func<long> Run)[]
        {
            ("meter, events without ids", () => Meter(withoutIds, counts)),
            ("meter, events with ids", () => Meter(withIds, counts)),
            ("meter, events with ids, IdMemory 48 h (forgets as it goes)", () => Meter(withIds, counts, TimeSpan.FromHours(48))),
            ("string set of the ids, then meter without ids (the check until issue 14)", () => StringSetThenMeter(withIds, withoutIds, counts)),
        };
        var best = cases.Select(_ => double.MaxValue).ToArray();
        for (var round = 0; round < 8; round++)
        {
            for (var c = 0; c < cases.Length; c++)
            {
                var clock = Stopwatch.StartNew();
                GC.KeepAlive(cases[c].Run());
                var perEvent = clock.Elapsed.TotalNanoseconds / count;
                if (round > 0) // the first round pays for JIT
                {
                    best[c] = Math.Min(best[c], perEvent);
                }
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Id check speed, {count:N0} generated events, fastest of 7 alternating rounds"));
        for (var c = 0; c < cases.Length; c++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {cases[c].Label,-75} {best[c],7:F1} ns/event"));
        }
    }

    private static long Meter(MeterEvent[] events, long[] counts, TimeSpan? idMemory = null)
    {
        var meter = new Meter(new MeterOptions()) { IdMemory = idMemory };
        var sink = new CountingSink(counts);
        foreach (ref readonly var e in events.AsSpan())
        {
            meter.Apply(e, sink);
        }
        return meter.KeyCount;
    }

    private static long StringSetThenMeter(MeterEvent[] withIds, MeterEvent[] withoutIds, long[] counts)
    {
        var meter = new Meter(new MeterOptions());
        var sink = new CountingSink(counts);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < withIds.Length; i++)
        {
            if (withIds[i].Id is { } id && !ids.Add(id))
            {
                meter.ApplyDuplicate(withoutIds[i], sink);
                continue;
            }
            meter.Apply(withoutIds[i], sink);
        }
        return meter.KeyCount;
    }
}

/// <summary>How fast the generator makes and writes the default month (2M events), median of 3 runs.</summary>
internal static class GeneratorProbe
{
    public static void Run()
    {
        var options = new GeneratorOptions();
        var path = Path.Combine(Path.GetTempPath(), "tally-generator-probe.csv");
        var generate = new List<double>();
        var write = new List<double>();
        for (var run = 0; run < 4; run++)
        {
            var clock = Stopwatch.StartNew();
            var month = new EventGenerator(options).Generate();
            var generated = clock.Elapsed.TotalSeconds;
            using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                EventWriter.Write(month, file, EventFormat.Csv);
            }
            var total = clock.Elapsed.TotalSeconds;
            if (run > 0) // the first run pays for JIT
            {
                generate.Add(generated);
                write.Add(total - generated);
            }
        }
        var size = new FileInfo(path).Length;
        File.Delete(path);
        generate.Sort();
        write.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Generator, {options.Events:N0} events ({size / 1e6:F1} MB CSV), median of 3 after a warm-up run: generate {generate[1]:F2} s, write {write[1]:F2} s, total {generate[1] + write[1]:F2} s ({options.Events / (generate[1] + write[1]) / 1e6:F2} M events/s)"));
    }
}
