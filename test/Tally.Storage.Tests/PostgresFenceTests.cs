using Npgsql;

namespace Tally.Storage.Tests;

/// <summary>The fence on PostgreSQL, where a claim and a commit really race: the claim's row lock orders them.</summary>
public sealed partial class PostgresLedgerStoreTests
{
    [Fact]
    public async Task ClaimTenant_WhileAnAppendHoldsItsFence_WaitsForThatCommit_AndTheAppendIsInTheLedger()
    {
        var old = Store.ClaimTenant("acme", "node-a", T0);
        await using var holder = new NpgsqlConnection(_connectionString);
        await holder.OpenAsync();
        await using var tx = await holder.BeginTransactionAsync();
        // An append of the old owner, stopped between its fence (the last statement, as PostgresLedgerStore runs it)
        // and its commit.
        Assert.Equal(1, await RunAsync(holder, tx,
            $"INSERT INTO events (tenant, event_id, time_ticks, user_name, device, app, action) VALUES ('acme', 'held', {T0.UtcTicks}, 'ann', '', 'sales', 'open-app');"));
        Assert.Equal(1, await RunAsync(holder, tx, $"UPDATE tenant_owners SET commits = commits + 1 WHERE tenant = 'acme' AND epoch = {old.Epoch};"));

        var claiming = Task.Run(() => Store.ClaimTenant("acme", "node-b", T0.AddMinutes(1)));
        await Eventually.Until(() => BlockedBy(holder.ProcessID), "the claim to wait on the open append's lock");
        Assert.False(claiming.IsCompleted);

        await tx.CommitAsync();
        Assert.Equal(2, (await claiming).Epoch);
        // The append committed before the claim, so the new owner's replay (after its claim) sees it.
        Assert.Equal(["held"], Store.Events("acme").Select(e => e.EventId));
        Assert.Equal([$"2|node-b|1"], QuerySql("SELECT epoch, owner, commits FROM tenant_owners WHERE tenant = 'acme';"));
        Assert.Throws<LedgerFencedException>(() => Store.Append("acme", [Entry("late", "bob", T0.UtcTicks)], null, old));
    }

    private static async Task<int> RunAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        return await command.ExecuteNonQueryAsync();
    }

    /// <summary>Whether some backend is waiting on a lock that the backend <paramref name="pid"/> holds.</summary>
    private async Task<bool> BlockedBy(int pid)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND $1 = ANY(pg_blocking_pids(pid));", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = pid });
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }
}
