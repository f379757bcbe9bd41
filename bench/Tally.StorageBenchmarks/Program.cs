using BenchmarkDotNet.Running;
using Tally.StorageBenchmarks;

// Report queries on a large ledger (a month of 10,000 users and 1,000,000 units).
//   --probe [sqlite|postgres] [--users-page]   build (or reuse) the ledger and time each query 20 times with a stopwatch
//                                               (--users-page: also time the users page's query once; it is slow)
//   anything else goes to BenchmarkDotNet, e.g. --filter '*' --job short
// PostgreSQL runs when TALLY_BENCH_POSTGRES holds a connection string (the ledger is built in schema tally_bench).
if (args is ["--probe", ..])
{
    ReportLedger.Probe(args.Length > 1 ? args[1] : "sqlite", args.Contains("--users-page"));
}
else
{
    BenchmarkSwitcher.FromAssembly(typeof(ReportQueries).Assembly).Run(args);
}
