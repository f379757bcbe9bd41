using System.Diagnostics;
using Tally.Storage;

namespace Tally.StorageBenchmarks;

/// <summary>
/// <see cref="IEventLedger.Append(string, IReadOnlyList{LedgerEntry}, ActivityMarks?)"/> alone, without the server: batches
/// shaped like the load harness's ingest runs (bench/load: 1,000 events a batch, 10,000 users round-robin, 50 apps, one
/// <c>select</c> each, every event with an id), each a covered decision except a user's first, which is charged and
/// opens a unit. Last activity goes with every 500th batch, as the writer records it every 5 seconds at 100,000
/// events/s. It separates the ledger's share of durable ingest from the request path's and the meter's.
/// </summary>
public static class AppendProbe
{
    private const int Users = 10_000;
    private const int Batch = 1_000;
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    // Event n names user n * 7919 mod Users (7919 is prime to Users, so the first Users events name every user once).
    private static readonly long[] FirstEventOf = FirstEvents();

    private static long[] FirstEvents()
    {
        var first = new long[Users];
        for (var n = 0L; n < Users; n++)
        {
            first[n * 7919 % Users] = n;
        }
        return first;
    }

    /// <summary>The last activity of the 500 batches ending with batch <paramref name="b"/> when it is the 500th; otherwise none yet.</summary>
    private static ActivityMarks? ActivityOf(List<List<LedgerEntry>> batches, int b) =>
        b % 500 == 499 ? ActivityMarks.Of(batches.Skip(b - 499).Take(500).SelectMany(batch => batch)) : null;

    public static void Run(string store, int events, bool observed = false)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tally-append-probe-{Environment.ProcessId}.db");
        ILedgerStore ledger = store == "postgres" ? new PostgresLedgerStore(ReportLedger.PostgresConnection()) : new SqliteLedgerStore(path);
        try
        {
            ledger.Initialize();
            var tenant = $"append-{Environment.ProcessId}";
            ledger.CreateTenant(new TenantRecord(tenant, "Append probe", Start));
            var batches = Enumerable.Range(0, events / Batch).Select(b => observed ? MakeObservedBatch(b * Batch) : MakeBatch(b * Batch)).ToList();
            // The first tenth warms the JIT and the database's caches and is not counted.
            var warm = batches.Count / 10;
            for (var b = 0; b < warm; b++)
            {
                AppendOne(ledger, tenant, batches, b, observed);
            }
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            for (var b = warm; b < batches.Count; b++)
            {
                AppendOne(ledger, tenant, batches, b, observed);
            }
            var seconds = clock.Elapsed.TotalSeconds;
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var counted = (batches.Count - warm) * Batch;
            Console.WriteLine($"{store} append{(observed ? " of observed records" : "")}: {counted / seconds:N0} {(observed ? "records" : "events")}/s wall, {counted / cpuSeconds:N0} {(observed ? "records" : "events")} per CPU-second of this process " +
                $"({counted:N0} events in batches of {Batch:N0}, {seconds:0.00} s)");
        }
        finally
        {
            ledger.Dispose();
            if (store != "postgres")
            {
                foreach (var file in new[] { path, path + "-wal", path + "-shm" })
                {
                    File.Delete(file);
                }
            }
        }
    }

    /// <summary>One batch as the writer appends it: an import first looks its record ids up (repeats and conflicts).</summary>
    private static void AppendOne(ILedgerStore ledger, string tenant, List<List<LedgerEntry>> batches, int b, bool observed)
    {
        if (observed)
        {
            _ = ledger.ObservedRecords(tenant, "probe", [.. batches[b].Select(e => e.Observed!.RecordId)]);
        }
        ledger.Append(tenant, batches[b], ActivityOf(batches, b));
    }

    /// <summary>Imported records (R13): one six-minute unit each, 10,000 users round-robin, as a Qlik consumption page lists them.</summary>
    private static List<LedgerEntry> MakeObservedBatch(int first)
    {
        var entries = new List<LedgerEntry>(Batch);
        for (var n = first; n < first + Batch; n++)
        {
            var userIndex = n * 7919L % Users;
            var end = Start.UtcTicks + n * TimeSpan.TicksPerMillisecond + TimeSpan.TicksPerMinute * 6;
            entries.Add(ObservedEntries.From("probe", new ObservedRecordRow($"record-{n}", $"user-{userIndex}", $"app-{userIndex % 50}", $"session-{n}",
                end, TimeSpan.TicksPerMinute * 6, 6, 1, "time", "analyzer_time"), "2026-03"));
        }
        return entries;
    }

    private static List<LedgerEntry> MakeBatch(int first)
    {
        var six = TimeSpan.TicksPerMinute * 6;
        var entries = new List<LedgerEntry>(Batch);
        for (var n = first; n < first + Batch; n++)
        {
            var userIndex = n * 7919L % Users;
            var user = $"user-{userIndex}";
            var app = $"app-{userIndex % 50}";
            var t = Start.UtcTicks + n * TimeSpan.TicksPerMillisecond;
            // A user's unit opened with their first event, the one of the first Users that named them.
            var unitStart = Start.UtcTicks + FirstEventOf[userIndex] * TimeSpan.TicksPerMillisecond;
            var opens = n < Users;
            entries.Add(new LedgerEntry($"ingest-probe-{n}", t, null, user, "", app, "select",
                [new StoredDecision(opens ? "charged" : "covered", null, user, app, "2026-03", unitStart, unitStart + six, 0, opens ? 6 : 0)],
                opens ? [new StoredUnit(0, user, "", app, "2026-03", t, t + six, 6, "time", "analyzer_time")] : [], "2026-03"));
        }
        return entries;
    }
}
