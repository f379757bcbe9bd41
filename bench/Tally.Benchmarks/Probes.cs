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
