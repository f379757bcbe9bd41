using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace Tally.Storage;

/// <summary>
/// The PostgreSQL ledger, for production and for several nodes on one database. Tables live in the connection's
/// search path (a schema per installation is fine). <see cref="LedgerStore.Initialize"/> migrates under a
/// transaction-scoped advisory lock, so nodes that start together apply each script once. <see cref="Append"/> writes a
/// whole batch with binary COPY in one transaction; the UNIQUE (tenant, event_id) constraint rejects a repeated id
/// inside that same transaction, so an id is never claimed apart from its event.
/// </summary>
public sealed class PostgresLedgerStore : LedgerStore
{
    private readonly NpgsqlDataSource _source;

    public PostgresLedgerStore(string connectionString) : base(SqlDialect.Postgres)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // A readable name in pg_stat_activity unless the operator chose one.
        builder.ApplicationName ??= "tally";
        var sources = new NpgsqlDataSourceBuilder(builder.ConnectionString);
        // A process that stops inside a transaction (frozen, suspended, cut off from the network) would hold its row
        // locks for as long as its connection lives, and a tenant's next owner would wait on them: the server ends
        // such a transaction after IdleInTransactionTimeout, far beyond any of Tally's own (milliseconds between
        // statements). Set once per physical connection, so no commit pays a round trip for it.
        sources.UsePhysicalConnectionInitializer(
            connection => SetIdleInTransactionTimeout(connection).GetAwaiter().GetResult(),
            SetIdleInTransactionTimeout);
        _source = sources.Build();
        Description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}" + (builder.SearchPath is { Length: > 0 } path ? $" (schema {path})" : "");
    }

    public override string Description { get; }

    /// <summary>How long the server lets one of Tally's sessions sit idle inside a transaction before ending it.</summary>
    public static readonly TimeSpan IdleInTransactionTimeout = TimeSpan.FromSeconds(15);

    private static async Task SetIdleInTransactionTimeout(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand(
            $"SET idle_in_transaction_session_timeout = {(long)IdleInTransactionTimeout.TotalMilliseconds}", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A server setting as a write connection sees it (for the tests of what the session is given).</summary>
    internal string SessionSetting(string name) => Write(connection =>
    {
        using var command = new NpgsqlCommand("SELECT current_setting(@name)", (NpgsqlConnection)connection);
        command.Parameters.AddWithValue("name", name);
        return (string)command.ExecuteScalar()!;
    });

    private protected override DbConnection OpenRead() => _source.OpenConnection();
    // Npgsql's I/O is truly asynchronous: a report waiting on the server holds no thread.
    private protected override async Task<T> ReadAsync<T>(Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken cancellation)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellation);
        return await work(connection, cancellation);
    }

    // The server serializes what must be serialized (row locks, the unique constraints, the dialect's advisory locks).
    private protected override T Write<T>(Func<DbConnection, T> work)
    {
        using var connection = _source.OpenConnection();
        return work(connection);
    }

    private protected override bool IsDatabaseFailure(Exception e) => e is NpgsqlException or TimeoutException;

    public override void Append(string tenant, IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity, TenantClaim? claim)
    {
        CheckClaim(tenant, claim);
        if (entries.Count == 0 && activity is null)
        {
            return;
        }
        try
        {
            AppendGroup(tenant, entries, activity, claim);
        }
        catch (Exception e) when (claim is not null && e is not LedgerFencedException)
        {
            // The fence runs last, so a stale group can fail earlier (an id the new owner committed): fenced all the same.
            if (ClaimIsStale(claim))
            {
                throw Fenced(claim, e);
            }
            throw;
        }
    }

    private void AppendGroup(string tenant, IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity, TenantClaim? claim)
    {
        using var connection = _source.OpenConnection();
        using var tx = connection.BeginTransaction();
        // Sequence numbers first (one round trip), so decisions and units can name their event in the same COPY
        // stream. One writer per tenant keeps them in recorded order.
        var seqs = new long[entries.Count];
        using (var command = new NpgsqlCommand("SELECT nextval('events_seq') FROM generate_series(1, $1);", connection, tx))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = entries.Count });
            using var reader = command.ExecuteReader();
            for (var i = 0; reader.Read(); i++)
            {
                seqs[i] = reader.GetInt64(0);
            }
        }
        Array.Sort(seqs);
        var carried = entries.Select(LedgerRows.CarriedInRow).ToArray();
        using (var copy = connection.BeginBinaryImport(
            "COPY events (seq, tenant, event_id, time_ticks, client_time, user_name, device, app, action, decision_kind, decision_period, unit_start_ticks, unit_end_ticks, decision_minutes) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < entries.Count; i++)
            {
                var e = entries[i];
                copy.StartRow();
                copy.Write(seqs[i], NpgsqlDbType.Bigint);
                copy.Write(tenant, NpgsqlDbType.Text);
                WriteText(copy, e.EventId);
                copy.Write(e.TimeTicks, NpgsqlDbType.Bigint);
                WriteText(copy, e.ClientTime);
                copy.Write(e.User, NpgsqlDbType.Text);
                copy.Write(e.Device, NpgsqlDbType.Text);
                copy.Write(e.App, NpgsqlDbType.Text);
                copy.Write(e.Action, NpgsqlDbType.Text);
                WriteText(copy, carried[i]?.Kind);
                WriteText(copy, carried[i]?.Period);
                WriteBigint(copy, carried[i]?.UnitStartTicks);
                WriteBigint(copy, carried[i]?.UnitEndTicks);
                WriteBigint(copy, carried[i]?.Minutes);
            }
            copy.Complete();
        }
        // Only the decisions no event row carries: usually none, and then no COPY either.
        if (entries.Where((e, i) => carried[i] is null && e.Decisions.Count > 0).Any())
        {
            using var copy = connection.BeginBinaryImport(
                "COPY decisions (event_seq, idx, tenant, kind, reason, user_name, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes) FROM STDIN (FORMAT BINARY)");
            for (var i = 0; i < entries.Count; i++)
            {
                var decisions = entries[i].Decisions;
                for (var j = 0; carried[i] is null && j < decisions.Count; j++)
                {
                    var d = decisions[j];
                    copy.StartRow();
                    copy.Write(seqs[i], NpgsqlDbType.Bigint);
                    copy.Write(j, NpgsqlDbType.Integer);
                    copy.Write(tenant, NpgsqlDbType.Text);
                    copy.Write(d.Kind, NpgsqlDbType.Text);
                    WriteText(copy, d.Reason);
                    copy.Write(d.User, NpgsqlDbType.Text);
                    copy.Write(d.App, NpgsqlDbType.Text);
                    copy.Write(d.Period, NpgsqlDbType.Text);
                    copy.Write(d.UnitStartTicks, NpgsqlDbType.Bigint);
                    copy.Write(d.UnitEndTicks, NpgsqlDbType.Bigint);
                    copy.Write(d.RetryAfterTicks, NpgsqlDbType.Bigint);
                    copy.Write(d.Minutes, NpgsqlDbType.Integer);
                }
            }
            copy.Complete();
        }
        if (entries.Any(e => e.Observed is not null))
        {
            using var copy = connection.BeginBinaryImport(
                "COPY observed_records (tenant, source, record_id, event_seq, user_name, app, session, end_ticks, duration_ticks, minutes, units, license_usage, allotment) FROM STDIN (FORMAT BINARY)");
            for (var i = 0; i < entries.Count; i++)
            {
                if (entries[i] is { Observed: { } o } e)
                {
                    copy.StartRow();
                    copy.Write(tenant, NpgsqlDbType.Text);
                    copy.Write(o.Source, NpgsqlDbType.Text);
                    copy.Write(o.RecordId, NpgsqlDbType.Text);
                    copy.Write(seqs[i], NpgsqlDbType.Bigint);
                    copy.Write(e.User, NpgsqlDbType.Text);
                    copy.Write(e.App, NpgsqlDbType.Text);
                    copy.Write(e.Device, NpgsqlDbType.Text);
                    copy.Write(e.TimeTicks, NpgsqlDbType.Bigint);
                    copy.Write(o.DurationTicks, NpgsqlDbType.Bigint);
                    copy.Write(o.Minutes, NpgsqlDbType.Bigint);
                    copy.Write(o.Units, NpgsqlDbType.Bigint);
                    copy.Write(o.LicenseUsage, NpgsqlDbType.Text);
                    WriteText(copy, o.Allotment);
                }
            }
            copy.Complete();
        }
        if (entries.Any(e => e.Units.Count > 0))
        {
            using var copy = connection.BeginBinaryImport(
                "COPY units (tenant, event_seq, user_name, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment, session, engaged_ticks) FROM STDIN (FORMAT BINARY)");
            for (var i = 0; i < entries.Count; i++)
            {
                foreach (var u in entries[i].Units)
                {
                    copy.StartRow();
                    copy.Write(tenant, NpgsqlDbType.Text);
                    copy.Write(seqs[i], NpgsqlDbType.Bigint);
                    copy.Write(u.User, NpgsqlDbType.Text);
                    copy.Write(u.Device, NpgsqlDbType.Text);
                    copy.Write(u.App, NpgsqlDbType.Text);
                    copy.Write(u.Period, NpgsqlDbType.Text);
                    copy.Write(u.StartTicks, NpgsqlDbType.Bigint);
                    copy.Write(u.EndTicks, NpgsqlDbType.Bigint);
                    copy.Write(u.Minutes, NpgsqlDbType.Integer);
                    copy.Write(u.LicenseUsage, NpgsqlDbType.Text);
                    copy.Write(u.Allotment, NpgsqlDbType.Text);
                    WriteText(copy, u.Session);
                    WriteBigint(copy, u.EngagedTicks);
                }
            }
            copy.Complete();
        }
        using (var batch = new NpgsqlBatch(connection, tx))
        {
            foreach (var (sql, rows) in RollupStatements(positional: false).Zip(LedgerRows.Json(LedgerRows.Rollup(entries, activity))))
            {
                var command = new NpgsqlBatchCommand(sql);
                command.Parameters.Add(new NpgsqlParameter("tenant", tenant));
                command.Parameters.Add(new NpgsqlParameter("rows", rows));
                batch.BatchCommands.Add(command);
            }
            if (activity is not null)
            {
                var recorded = new NpgsqlBatchCommand(ActivityRecordedStatement(positional: false));
                recorded.Parameters.Add(new NpgsqlParameter("tenant", tenant));
                batch.BatchCommands.Add(recorded);
            }
            // The fence last: the claim's row is locked from here to the commit only, one round trip, so a claim that
            // races this group waits for it at most that long (and then its owner's replay sees the group).
            NpgsqlBatchCommand? fence = null;
            if (claim is not null)
            {
                fence = new NpgsqlBatchCommand(FenceStatement);
                fence.Parameters.Add(new NpgsqlParameter("tenant", claim.Tenant));
                fence.Parameters.Add(new NpgsqlParameter("epoch", claim.Epoch));
                batch.BatchCommands.Add(fence);
            }
            batch.ExecuteNonQuery();
            if (fence is { RecordsAffected: 0 })
            {
                tx.Rollback();
                throw Fenced(claim!);
            }
        }
        // synchronous_commit stays on (the server default): Commit returns once the WAL is flushed.
        tx.Commit();
    }

    private static void WriteText(NpgsqlBinaryImporter copy, string? value)
    {
        if (value is null)
        {
            copy.WriteNull();
        }
        else
        {
            copy.Write(value, NpgsqlDbType.Text);
        }
    }

    private static void WriteBigint(NpgsqlBinaryImporter copy, long? value)
    {
        if (value is { } number)
        {
            copy.Write(number, NpgsqlDbType.Bigint);
        }
        else
        {
            copy.WriteNull();
        }
    }

    public override void Dispose() => _source.Dispose();
}
