using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;

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
    /// One transaction per batch. The write lock is taken first (BEGIN IMMEDIATE), so the event numbers read at its start
    /// are this batch's. Rows go in through statements prepared once and bound by position straight from the entries
    /// (<see cref="RowStatement"/>): no text in between for SQLite to parse, which was half of its time when the batch
    /// went in as JSON. The rollups too: one positional upsert per rollup row (a row per user, app and pair the batch
    /// names), not one JSON upsert per table. A repeated event id fails the
    /// events statement and with it the whole transaction.
    /// </summary>
    public override void Append(string tenant, IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity, TenantClaim? claim)
    {
        CheckClaim(tenant, claim);
        if (entries.Count == 0 && activity is null)
        {
            return;
        }
        var rollups = LedgerRows.Rollup(entries, activity);
        bool committed;
        lock (_writeGate)
        {
            _appender ??= new AppendConnection(Open(_writeConnectionString), RollupStatements(positional: true));
            try
            {
                committed = _appender.Append(tenant, entries, rollups, recordsActivity: activity is not null, claim);
            }
            catch
            {
                // Never reuse a connection a failed batch went through.
                _appender.Dispose();
                _appender = null;
                throw;
            }
        }
        if (!committed)
        {
            throw Fenced(claim!);
        }
    }

    /// <summary>The append connection, kept open with its statements prepared (used under the write gate only).</summary>
    private sealed class AppendConnection : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteCommand _lastSeq;
        private readonly RowStatement _event;
        private readonly RowStatement _decision;
        private readonly RowStatement _unit;
        private readonly RowStatement _users;
        private readonly RowStatement _periods;
        private readonly RowStatement _hours;
        private readonly RowStatement _apps;
        private readonly RowStatement _userApps;
        private readonly RowStatement _activityRecorded;
        private readonly RowStatement _observed;
        private readonly SqliteCommand _fence;

        public AppendConnection(SqliteConnection connection, IReadOnlyList<string> rollupStatements)
        {
            _connection = connection;
            _fence = Prepare(FenceStatement, "@tenant", "@epoch");
            _lastSeq = Prepare("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), COALESCE((SELECT MAX(seq) FROM events), 0));");
            _event = new RowStatement(connection, """
                INSERT INTO events (seq, tenant, event_id, time_ticks, client_time, user_name, device, app, action,
                    decision_kind, decision_period, unit_start_ticks, unit_end_ticks, decision_minutes)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14);
                """);
            _decision = new RowStatement(connection, """
                INSERT INTO decisions (event_seq, idx, tenant, kind, reason, user_name, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12);
                """);
            _unit = new RowStatement(connection, """
                INSERT INTO units (tenant, event_seq, user_name, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment, session, engaged_ticks)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13);
                """);
            (_users, _periods, _hours, _apps, _userApps) = rollupStatements is [var users, var periods, var hours, var apps, var userApps]
                ? (new RowStatement(connection, users), new RowStatement(connection, periods), new RowStatement(connection, hours),
                    new RowStatement(connection, apps), new RowStatement(connection, userApps))
                : throw new ArgumentException("Five rollup statements expected.", nameof(rollupStatements));
            _activityRecorded = new RowStatement(connection, ActivityRecordedStatement(positional: true));
            _observed = new RowStatement(connection, """
                INSERT INTO observed_records (tenant, source, record_id, event_seq, user_name, app, session, end_ticks, duration_ticks, minutes, units,
                    license_usage, allotment)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13);
                """);
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

        /// <summary>Writes the batch in one transaction; false, with nothing written, when <paramref name="claim"/> is stale.</summary>
        public bool Append(string tenant, IReadOnlyList<LedgerEntry> entries, Rollups rollups, bool recordsActivity, TenantClaim? claim)
        {
            using var tx = _connection.BeginTransaction(deferred: false);
            // First: the write gate and BEGIN IMMEDIATE already order it with any claim (no lock to keep short, unlike
            // PostgreSQL), and a stale group is refused as fenced before a repeated id could fail it for another reason.
            if (claim is not null && Bind(_fence, tx, claim.Tenant, claim.Epoch).ExecuteNonQuery() == 0)
            {
                tx.Rollback();
                return false;
            }
            var seq = Convert.ToInt64(Bind(_lastSeq, tx).ExecuteScalar(), CultureInfo.InvariantCulture);
            foreach (var entry in entries)
            {
                seq++;
                var carried = LedgerRows.CarriedInRow(entry);
                _event.Bind(1, seq).Bind(2, tenant).Bind(3, entry.EventId).Bind(4, entry.TimeTicks).Bind(5, entry.ClientTime)
                    .Bind(6, entry.User).Bind(7, entry.Device).Bind(8, entry.App).Bind(9, entry.Action)
                    .Bind(10, carried?.Kind).Bind(11, carried?.Period).Bind(12, carried?.UnitStartTicks).Bind(13, carried?.UnitEndTicks)
                    .Bind(14, carried?.Minutes).Run();
                for (var i = 0; carried is null && i < entry.Decisions.Count; i++)
                {
                    var d = entry.Decisions[i];
                    _decision.Bind(1, seq).Bind(2, i).Bind(3, tenant).Bind(4, d.Kind).Bind(5, d.Reason).Bind(6, d.User).Bind(7, d.App)
                        .Bind(8, d.Period).Bind(9, d.UnitStartTicks).Bind(10, d.UnitEndTicks).Bind(11, d.RetryAfterTicks).Bind(12, d.Minutes).Run();
                }
                if (entry.Observed is { } o)
                {
                    _observed.Bind(1, tenant).Bind(2, o.Source).Bind(3, o.RecordId).Bind(4, seq).Bind(5, entry.User).Bind(6, entry.App)
                        .Bind(7, entry.Device).Bind(8, entry.TimeTicks).Bind(9, o.DurationTicks).Bind(10, o.Minutes).Bind(11, o.Units)
                        .Bind(12, o.LicenseUsage).Bind(13, o.Allotment).Run();
                }
                foreach (var u in entry.Units)
                {
                    _unit.Bind(1, tenant).Bind(2, seq).Bind(3, u.User).Bind(4, u.Device).Bind(5, u.App).Bind(6, u.Period)
                        .Bind(7, u.StartTicks).Bind(8, u.EndTicks).Bind(9, u.Minutes).Bind(10, u.LicenseUsage).Bind(11, u.Allotment).Bind(12, u.Session)
                        .Bind(13, u.EngagedTicks).Run();
                }
            }
            // Users and apps before their pairs: the pairs' trigger counts into their rows.
            foreach (var (period, user, r) in rollups.Users)
            {
                _users.Bind(1, tenant).Bind(2, period).Bind(3, user).Bind(4, r.Units).Bind(5, r.Minutes).Bind(6, r.Denied).Bind(7, r.Allotment)
                    .Bind(8, Ticks(r.LastTicks)).Run();
            }
            foreach (var (period, r) in rollups.Periods)
            {
                _periods.Bind(1, tenant).Bind(2, period).Bind(3, r.PoolUnits).Bind(4, r.PoolMinutes).Bind(5, r.Denied).Bind(6, r.Events).Run();
            }
            foreach (var (hour, minutes) in rollups.Hours)
            {
                _hours.Bind(1, tenant).Bind(2, hour).Bind(3, minutes).Run();
            }
            foreach (var (period, app, r) in rollups.Apps)
            {
                _apps.Bind(1, tenant).Bind(2, period).Bind(3, app).Bind(4, r.Units).Bind(5, r.Minutes).Bind(6, Ticks(r.LastTicks)).Run();
            }
            foreach (var (period, user, app) in rollups.UserApps)
            {
                _userApps.Bind(1, tenant).Bind(2, period).Bind(3, user).Bind(4, app).Run();
            }
            if (recordsActivity)
            {
                _activityRecorded.Bind(1, tenant).Run();
            }
            tx.Commit();
            return true;
        }

        // No event of its own in the batch: NULL, and the upsert keeps the stored value (0 is never a server time).
        private static long? Ticks(long ticks) => ticks == 0 ? null : ticks;

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
            _lastSeq.Dispose();
            _fence.Dispose();
            foreach (var statement in (RowStatement[])[_event, _decision, _unit, _users, _periods, _hours, _apps, _userApps, _activityRecorded, _observed])
            {
                statement.Dispose();
            }
            _connection.Dispose();
        }
    }

    /// <summary>
    /// One INSERT (or upsert) of one row, prepared once on the append connection and run per row with positional parameters, through
    /// SQLite's own API (SQLitePCLRaw, which Microsoft.Data.Sqlite is built on): binding by position with no parameter
    /// objects, boxing or name lookups, and text handed over as UTF-16 for SQLite to convert. It runs inside the
    /// transaction the connection has open; a failure throws the same <see cref="SqliteException"/> a command would.
    /// </summary>
    private sealed class RowStatement : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly sqlite3_stmt _statement;

        public RowStatement(SqliteConnection connection, string sql)
        {
            _connection = connection;
            SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(connection.Handle, sql, out _statement), connection.Handle);
        }

        public RowStatement Bind(int position, long value) => Check(raw.sqlite3_bind_int64(_statement, position, value));

        public RowStatement Bind(int position, long? value) =>
            Check(value is { } number ? raw.sqlite3_bind_int64(_statement, position, number) : raw.sqlite3_bind_null(_statement, position));

        public RowStatement Bind(int position, string? value) =>
            Check(value is null ? raw.sqlite3_bind_null(_statement, position) : raw.sqlite3_bind_text16(_statement, position, value.AsSpan()));

        private RowStatement Check(int rc)
        {
            SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
            return this;
        }

        /// <summary>Inserts (or upserts) the bound row and makes the statement ready for the next.</summary>
        public void Run()
        {
            var rc = raw.sqlite3_step(_statement);
            raw.sqlite3_reset(_statement);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
            }
        }

        public void Dispose() => _statement.Dispose();
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
