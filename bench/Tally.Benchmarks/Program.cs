using BenchmarkDotNet.Running;
using Tally.Benchmarks;

// Two small probes that are not BenchmarkDotNet runs, then the benchmarks:
//   --memory     bytes of meter state per live key
//   --id-memory  bytes per accepted event id, old and new
//   --id-speed   the realistic mix with and without ids, and the old id check, fastest of alternating rounds
//   --generate   speed of the event generator (2M events)
//   anything else is handed to BenchmarkDotNet, e.g. --filter '*' --job short
switch (args)
{
    case ["--memory", ..]:
        MemoryProbe.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100_000);
        break;
    case ["--id-memory", ..]:
        IdMemoryProbe.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000);
        break;
    case ["--id-speed", ..]:
        IdSpeedProbe.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2_000_000);
        break;
    case ["--generate", ..]:
        GeneratorProbe.Run();
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(CoveredBenchmarks).Assembly).Run(args);
        break;
}
