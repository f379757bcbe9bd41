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
