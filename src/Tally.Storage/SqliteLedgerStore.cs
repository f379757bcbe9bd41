using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tally.Storage;

/// <summary>
/// How hard SQLite pushes a commit to disk. In WAL mode, <see cref="Normal"/> keeps every committed transaction
/// across a process crash (kill -9) but may lose the last ones on power loss or an OS crash; <see cref="Full"/>
/// also survives power loss at the cost of an fsync per commit.
/// </summary>
public enum SqliteSynchronous
{
    Normal,
    Full,
}

/// <summary>
/// The SQLite ledger: one file in WAL mode. Writes go through one connection-wide gate (SQLite has one writer per
/// file anyway), so a writer never spins on SQLITE_BUSY; reads use their own pooled connections and see the last
/// committed state.
/// </summary>
public sealed class SqliteLedgerStore : LedgerStore
{
    private readonly string _connectionString;
    private readonly string _writeConnectionString;
    private readonly string _synchronous;
    private readonly Lock _writeGate = new();
    private AppendConnection? _appender;

    public SqliteLedgerStore(string path, SqliteSynchronous synchronous = SqliteSynchronous.Normal) : base(SqlDialect.Sqlite)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        // Writes never take a pooled connection: SQLite opens a file it cannot write read-only without saying so, and a
        // read connection pooled while the folder was read-only would refuse writes long after it is writable again.
        _writeConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
        _synchronous = synchronous == SqliteSynchronous.Full ? "FULL" : "NORMAL";
    }

    public string Path { get; }

    public override string Description => Path;

    private SqliteConnection Open(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        Execute(connection, null, $"PRAGMA synchronous={_synchronous}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;");
        return connection;
    }

    private protected override DbConnection OpenRead() => Open(_connectionString);

    private protected override T Write<T>(Func<DbConnection, T> work)
    {
        lock (_writeGate)
        {
            // Never pooled (see the constructor): each write sees the file as it is now.
            using var connection = Open(_writeConnectionString);
            return work(connection);
        }
    }

    private protected override void BeforeMigrations(DbConnection connection) => Execute(connection, null, "PRAGMA journal_mode=WAL;");

    /// <summary>
    /// One transaction per batch, a handful of statements whatever its size: the rows go in as JSON arrays that SQLite
    /// itself unpacks (<c>json_each</c>), so the cost per event is SQLite's b-tree work, not a bind-and-step round per
    /// row. The write lock is taken first (BEGIN IMMEDIATE), so the event numbers read at its start are this batch's.
    /// A repeated event id fails the events statement and with it the whole transaction.
    /// </summary>
    public override void Append(string tenant, IReadOnlyList<LedgerEntry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }
        var (events, decisions, units) = LedgerRows.Json(entries);
        var rollups = LedgerRows.Json(LedgerRows.Rollup(entries));
        lock (_writeGate)
        {
            _appender ??= new AppendConnection(Open(_writeConnectionString), RollupStatements());
            try
            {
                _appender.Append(tenant, events, decisions, units, rollups);
            }
            catch
            {
                // Never reuse a connection a failed batch went through.
                _appender.Dispose();
                _appender = null;
                throw;
            }
        }
    }

    /// <summary>The append connection, kept open with its statements prepared (used under the write gate only).</summary>
    private sealed class AppendConnection : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteCommand _lastSeq;
        private readonly SqliteCommand _events;
        private readonly SqliteCommand _decisions;
        private readonly SqliteCommand _units;
        private readonly SqliteCommand[] _rollups;

        public AppendConnection(SqliteConnection connection, IReadOnlyList<string> rollupStatements)
        {
            _connection = connection;
            _lastSeq = Prepare("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), COALESCE((SELECT MAX(seq) FROM events), 0));");
            _events = Prepare("""
                INSERT INTO events (seq, tenant, event_id, time_ticks, client_time, user_name, device, app, action)
                SELECT @first + key, @tenant, value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(@rows);
                """, "@first", "@tenant", "@rows");
            _decisions = Prepare("""
                INSERT INTO decisions (event_seq, idx, tenant, kind, reason, user_name, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes)
                SELECT @first + (value->>0), value->>1, @tenant, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10
                FROM json_each(@rows);
                """, "@first", "@tenant", "@rows");
            _units = Prepare("""
                INSERT INTO units (tenant, event_seq, user_name, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment)
                SELECT @tenant, @first + (value->>0), value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9
                FROM json_each(@rows);
                """, "@first", "@tenant", "@rows");
            _rollups = [.. rollupStatements.Select(sql => Prepare(sql, "@tenant", "@rows"))];
        }

        private SqliteCommand Prepare(string sql, params string[] parameters)
        {
            var command = _connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
            return command;
        }

        public void Append(string tenant, string events, string decisions, string? units, IReadOnlyList<string> rollups)
        {
            using var tx = _connection.BeginTransaction(deferred: false);
            var first = Convert.ToInt64(Bind(_lastSeq, tx).ExecuteScalar(), CultureInfo.InvariantCulture) + 1;
            Bind(_events, tx, first, tenant, events).ExecuteNonQuery();
            Bind(_decisions, tx, first, tenant, decisions).ExecuteNonQuery();
            if (units is not null)
            {
                Bind(_units, tx, first, tenant, units).ExecuteNonQuery();
            }
            for (var i = 0; i < _rollups.Length; i++)
            {
                Bind(_rollups[i], tx, tenant, rollups[i]).ExecuteNonQuery();
            }
            tx.Commit();
        }

        private static SqliteCommand Bind(SqliteCommand command, SqliteTransaction tx, params object[] values)
        {
            command.Transaction = tx;
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i];
            }
            return command;
        }

        public void Dispose()
        {
            foreach (var command in (SqliteCommand[])[_lastSeq, _events, _decisions, _units, .. _rollups])
            {
                command.Dispose();
            }
            _connection.Dispose();
        }
    }

    public override void Dispose()
    {
        lock (_writeGate)
        {
            _appender?.Dispose();
            _appender = null;
        }
        SqliteConnection.ClearAllPools();
    }
}
