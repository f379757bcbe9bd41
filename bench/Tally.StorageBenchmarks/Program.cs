using BenchmarkDotNet.Running;
using Tally.StorageBenchmarks;

// Report queries on a large ledger (a month of 10,000 users and 1,000,000 units).
//   --probe [sqlite|postgres] [--users-page]   build (or reuse) the ledger and time each query 20 times with a stopwatch
//                                               (--users-page: also time the users page's query once; it is slow)
//   --append [sqlite|postgres] [events] [--observed]
//                                               Append alone, batches shaped like the load harness's ingest (default 300,000
//                                               events); --observed: imported records instead (R13), each looked up first
//                                               as the writer does
//   anything else goes to BenchmarkDotNet, e.g. --filter '*' --job short
// PostgreSQL runs when TALLY_BENCH_POSTGRES holds a connection string (the ledger is built in schema tally_bench).
if (args is ["--append", ..])
{
    AppendProbe.Run(args.Length > 1 ? args[1] : "sqlite",
        args.Length > 2 && args[2] != "--observed" ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 300_000, args.Contains("--observed"));
}
else if (args is ["--probe", ..])
{
    ReportLedger.Probe(args.Length > 1 ? args[1] : "sqlite", args.Contains("--users-page"));
}
else
{
    BenchmarkSwitcher.FromAssembly(typeof(ReportQueries).Assembly).Run(args);
}
