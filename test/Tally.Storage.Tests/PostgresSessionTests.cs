namespace Tally.Storage.Tests;

public sealed partial class PostgresLedgerStoreTests
{
    [Fact]
    public void WriteSessions_AreEndedByTheServer_WhenLeftIdleInATransaction()
    {
        using var store = new PostgresLedgerStore(_connectionString);

        // A frozen owner mid-transaction would otherwise hold its row locks until its connection dies: the next owner's
        // claim would wait on them.
        Assert.Equal("15s", store.SessionSetting("idle_in_transaction_session_timeout"));
        Assert.Equal(TimeSpan.FromSeconds(15), PostgresLedgerStore.IdleInTransactionTimeout);
    }
}

public sealed partial class PostgresLedgerStoreTests
{
    [Fact]
    public void Exclusively_AcrossTwoStoresOnOneDatabase_NeverOverlapsAndEachSeesTheOthersWrites()
    {
        // Two stores stand for two nodes. Each work reads the license, sleeps, and writes it one higher: overlapping
        // works would read the same value and lose an increment.
        using var node1 = new PostgresLedgerStore(_connectionString);
        using var node2 = new PostgresLedgerStore(_connectionString);
        node1.Initialize();
        node1.CreateTenant(new TenantRecord("acme", "Acme", T0));
        node1.SetLicense(new LicenseRecord("acme", "0", T0));
        var inside = 0;
        var overlaps = 0;
        const int PerThread = 10;
        var threads = new[] { node1, node2, node1, node2 }.Select(store => new Thread(() =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                store.Exclusively("test", () =>
                {
                    if (Interlocked.Increment(ref inside) > 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }
                    var seen = int.Parse(store.GetLicense("acme")!.Key, System.Globalization.CultureInfo.InvariantCulture);
                    Thread.Sleep(2);
                    store.SetLicense(new LicenseRecord("acme", (seen + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), T0));
                    Interlocked.Decrement(ref inside);
                    return seen;
                });
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(0, overlaps);
        Assert.Equal((4 * PerThread).ToString(System.Globalization.CultureInfo.InvariantCulture), node2.GetLicense("acme")!.Key);
    }
}
