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
public sealed class SqliteLedgerStore : ILedgerStore
{
    public const int CurrentSchemaVersion = 6;

    private readonly string _connectionString;
    private readonly string _writeConnectionString;
    private readonly string _synchronous;
    private readonly Lock _writeGate = new();

    public SqliteLedgerStore(string path, SqliteSynchronous synchronous = SqliteSynchronous.Normal)
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

    private SqliteConnection Open(bool forWrite = false)
    {
        var connection = new SqliteConnection(forWrite ? _writeConnectionString : _connectionString);
        connection.Open();
        Execute(connection, $"PRAGMA synchronous={_synchronous}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;");
        return connection;
    }

    public void Initialize()
    {
        try
        {
            Migrate();
        }
        catch (SqliteException e)
        {
            throw new LedgerOpenException($"Could not open the ledger {Path}: {e.Message}", e);
        }
    }

    private void Migrate()
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            Execute(connection, "PRAGMA journal_mode=WAL;");
            using var tx = connection.BeginTransaction();
            Execute(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL);", tx);
            var version = Convert.ToInt32(Scalar(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version;", tx), CultureInfo.InvariantCulture);
            if (version > CurrentSchemaVersion)
            {
                throw new LedgerOpenException($"The data file {Path} has schema version {version}, newer than this Tally ({CurrentSchemaVersion}). Upgrade Tally or restore a matching backup.");
            }
            if (version < 1)
            {
                Execute(connection, SchemaV1, tx);
                Execute(connection, "INSERT INTO schema_version (version, applied) VALUES (1, 'v1');", tx);
            }
            if (version < 2)
            {
                Execute(connection, SchemaV2, tx);
                Execute(connection, "INSERT INTO schema_version (version, applied) VALUES (2, 'v2: terms changes');", tx);
            }
            if (version < 3)
            {
                Execute(connection, SchemaV3, tx);
                Execute(connection, "INSERT INTO schema_version (version, applied) VALUES (3, 'v3: monitoring and alerts');", tx);
            }
            if (version < 4)
            {
                Execute(connection, SchemaV4, tx);
                Execute(connection, "INSERT INTO schema_version (version, applied) VALUES (4, 'v4: report rollups');", tx);
            }
            if (version < 5)
            {
                Execute(connection, UnitOrder.SchemaV5, tx);
                Execute(connection, "INSERT INTO schema_version (version, applied) VALUES (5, 'v5: units by end time');", tx);
            }
            if (version < 6)
            {
                Execute(connection, WriteCheck.SchemaV6, tx);
                Execute(connection, "INSERT INTO schema_version (version, applied) VALUES (6, 'v6: write checks');", tx);
            }
            tx.Commit();
        }
    }

    private const string SchemaV1 = """
        CREATE TABLE tenants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_ticks INTEGER NOT NULL);
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            hash BLOB NOT NULL UNIQUE,
            tenant TEXT NULL REFERENCES tenants(id),
            role TEXT NOT NULL,
            created_ticks INTEGER NOT NULL,
            revoked_ticks INTEGER NULL);
        CREATE TABLE licenses (
            tenant TEXT PRIMARY KEY REFERENCES tenants(id),
            key TEXT NOT NULL,
            installed_ticks INTEGER NOT NULL);
        CREATE TABLE allocation_plans (
            tenant TEXT PRIMARY KEY REFERENCES tenants(id),
            plan TEXT NOT NULL,
            updated_ticks INTEGER NOT NULL);
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL REFERENCES tenants(id),
            event_id TEXT NULL,
            time_ticks INTEGER NOT NULL,
            client_time TEXT NULL,
            user TEXT NOT NULL,
            device TEXT NOT NULL,
            app TEXT NOT NULL,
            action TEXT NOT NULL,
            UNIQUE (tenant, event_id));
        CREATE INDEX events_tenant_seq ON events (tenant, seq);
        CREATE TABLE decisions (
            event_seq INTEGER NOT NULL REFERENCES events(seq),
            idx INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NULL,
            user TEXT NOT NULL,
            app TEXT NOT NULL,
            period TEXT NOT NULL,
            unit_start_ticks INTEGER NOT NULL,
            unit_end_ticks INTEGER NOT NULL,
            retry_after_ticks INTEGER NOT NULL,
            minutes INTEGER NOT NULL,
            PRIMARY KEY (event_seq, idx));
        CREATE INDEX decisions_tenant_period ON decisions (tenant, period, kind);
        CREATE TABLE units (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            event_seq INTEGER NOT NULL REFERENCES events(seq),
            user TEXT NOT NULL,
            device TEXT NOT NULL,
            app TEXT NOT NULL,
            period TEXT NOT NULL,
            start_ticks INTEGER NOT NULL,
            end_ticks INTEGER NOT NULL,
            minutes INTEGER NOT NULL,
            license_usage TEXT NOT NULL,
            allotment TEXT NOT NULL);
        CREATE INDEX units_tenant_period ON units (tenant, period);
        CREATE INDEX units_tenant_id ON units (tenant, id);
        """;

    // v2: license and plan changes at their position in the event stream, so a rebuild re-applies them in place.
    private const string SchemaV2 = """
        CREATE TABLE terms_changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL REFERENCES tenants(id),
            after_events INTEGER NOT NULL,
            license_key TEXT NULL,
            plan TEXT NULL,
            at_ticks INTEGER NOT NULL);
        CREATE INDEX terms_changes_tenant ON terms_changes (tenant, id);
        """;

    // v3: time-range indexes for the monitoring reports, and alerting (rules, channels, fired marks, history).
    // alert_fired's primary key is the fire-once guarantee: a mark is inserted before anything is sent.
    private const string SchemaV3 = """
        CREATE INDEX units_tenant_start ON units (tenant, start_ticks);
        CREATE INDEX events_tenant_time ON events (tenant, time_ticks);
        CREATE TABLE alert_channels (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL REFERENCES tenants(id),
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            target TEXT NOT NULL,
            secret TEXT NULL,
            created_ticks INTEGER NOT NULL);
        CREATE TABLE alert_rules (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL REFERENCES tenants(id),
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            value REAL NULL,
            channel_ids TEXT NOT NULL,
            created_ticks INTEGER NOT NULL);
        CREATE TABLE alert_fired (
            tenant TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            period TEXT NOT NULL,
            subject TEXT NOT NULL,
            fired_ticks INTEGER NOT NULL,
            PRIMARY KEY (tenant, rule_id, period, subject));
        CREATE TABLE alert_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_kind TEXT NOT NULL,
            period TEXT NOT NULL,
            subject TEXT NOT NULL,
            fired_ticks INTEGER NOT NULL,
            channel_id TEXT NULL,
            channel_kind TEXT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL,
            detail TEXT NULL);
        CREATE INDEX alert_history_tenant ON alert_history (tenant, id);
        """;

    // v4: rollups the reports read instead of scanning a month of rows (overview, summary, top users stay fast at a
    // million units). Append keeps them in the same transaction as the rows; this step fills them from existing rows.
    private const string SchemaV4 = """
        CREATE TABLE usage_users (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            user TEXT NOT NULL,
            units INTEGER NOT NULL,
            minutes INTEGER NOT NULL,
            denied INTEGER NOT NULL,
            PRIMARY KEY (tenant, period, user)) WITHOUT ROWID;
        CREATE TABLE usage_periods (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            pool_units INTEGER NOT NULL,
            pool_minutes INTEGER NOT NULL,
            denied INTEGER NOT NULL,
            events INTEGER NOT NULL,
            PRIMARY KEY (tenant, period)) WITHOUT ROWID;
        CREATE TABLE usage_hours (
            tenant TEXT NOT NULL,
            hour INTEGER NOT NULL,
            pool_minutes INTEGER NOT NULL,
            PRIMARY KEY (tenant, hour)) WITHOUT ROWID;
        INSERT INTO usage_users (tenant, period, user, units, minutes, denied)
        SELECT tenant, period, user, SUM(units), SUM(minutes), SUM(denied) FROM (
            SELECT tenant, period, user, 1 AS units, minutes, 0 AS denied FROM units
            UNION ALL
            SELECT tenant, period, user, 0, 0, 1 FROM decisions WHERE kind = 'denied')
        GROUP BY tenant, period, user;
        INSERT INTO usage_periods (tenant, period, pool_units, pool_minutes, denied, events)
        SELECT tenant, period, SUM(pu), SUM(pm), SUM(d), SUM(e) FROM (
            SELECT tenant, period, 1 AS pu, minutes AS pm, 0 AS d, 0 AS e FROM units WHERE license_usage = 'time'
            UNION ALL
            SELECT tenant, period, 0, 0, 1, 0 FROM decisions WHERE kind = 'denied'
            UNION ALL
            SELECT tenant, period, 0, 0, 0, COUNT(DISTINCT event_seq) FROM decisions GROUP BY tenant, period)
        GROUP BY tenant, period;
        INSERT INTO usage_hours (tenant, hour, pool_minutes)
        SELECT tenant, start_ticks / 36000000000 * 36000000000, SUM(minutes) FROM units WHERE license_usage = 'time' GROUP BY 1, 2;
        """;

    public void RecordTermsChange(string tenant, TermsChange change)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection,
                "INSERT INTO terms_changes (tenant, after_events, license_key, plan, at_ticks) VALUES ($tenant, $after, $key, $plan, $at);",
                ("$tenant", tenant), ("$after", change.AfterEvents), ("$key", change.LicenseKey), ("$plan", change.PlanJson), ("$at", change.At.UtcTicks));
            command.ExecuteNonQuery();
        }
    }

    public IReadOnlyList<TermsChange> TermsChanges(string tenant) =>
        Query(c => Command(c, "SELECT after_events, license_key, plan, at_ticks FROM terms_changes WHERE tenant = $tenant ORDER BY id;", ("$tenant", tenant)),
            r => new TermsChange(r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), Instant(r.GetInt64(3))));

    public int SchemaVersion()
    {
        using var connection = Open();
        return Convert.ToInt32(Scalar(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version;"), CultureInfo.InvariantCulture);
    }

    public bool CreateTenant(TenantRecord tenant)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection, "INSERT INTO tenants (id, name, created_ticks) VALUES ($id, $name, $created) ON CONFLICT (id) DO NOTHING;",
                ("$id", tenant.Id), ("$name", tenant.Name), ("$created", tenant.Created.UtcTicks));
            return command.ExecuteNonQuery() == 1;
        }
    }

    public TenantRecord? GetTenant(string id) =>
        Query(c => Command(c, "SELECT id, name, created_ticks FROM tenants WHERE id = $id;", ("$id", id)), ReadTenant).FirstOrDefault();

    public IReadOnlyList<TenantRecord> Tenants() =>
        Query(c => Command(c, "SELECT id, name, created_ticks FROM tenants ORDER BY id;"), ReadTenant);

    private static TenantRecord ReadTenant(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), Instant(r.GetInt64(2)));

    public void AddApiKey(ApiKeyRecord key)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection,
                "INSERT INTO api_keys (id, hash, tenant, role, created_ticks, revoked_ticks) VALUES ($id, $hash, $tenant, $role, $created, $revoked);",
                ("$id", key.Id), ("$hash", key.Hash), ("$tenant", key.Tenant), ("$role", key.Role.ToWire()),
                ("$created", key.Created.UtcTicks), ("$revoked", key.Revoked?.UtcTicks));
            command.ExecuteNonQuery();
        }
    }

    private const string KeyColumns = "SELECT id, hash, tenant, role, created_ticks, revoked_ticks FROM api_keys";

    public ApiKeyRecord? FindApiKey(byte[] hash) =>
        Query(c => Command(c, KeyColumns + " WHERE hash = $hash;", ("$hash", hash)), ReadKey).FirstOrDefault();

    public ApiKeyRecord? GetApiKey(string id) =>
        Query(c => Command(c, KeyColumns + " WHERE id = $id;", ("$id", id)), ReadKey).FirstOrDefault();

    public IReadOnlyList<ApiKeyRecord> ApiKeys(string? tenant) => tenant is null
        ? Query(c => Command(c, KeyColumns + " WHERE tenant IS NULL ORDER BY created_ticks, id;"), ReadKey)
        : Query(c => Command(c, KeyColumns + " WHERE tenant = $tenant ORDER BY created_ticks, id;", ("$tenant", tenant)), ReadKey);

    public bool HasActiveKey(ApiRole role) =>
        Query(c => Command(c, "SELECT 1 FROM api_keys WHERE role = $role AND revoked_ticks IS NULL LIMIT 1;", ("$role", role.ToWire())), _ => true).Count > 0;

    private static ApiKeyRecord ReadKey(SqliteDataReader r)
    {
        ApiRoles.TryParse(r.GetString(3), out var role);
        return new ApiKeyRecord(r.GetString(0), (byte[])r[1], r.IsDBNull(2) ? null : r.GetString(2), role,
            Instant(r.GetInt64(4)), r.IsDBNull(5) ? null : Instant(r.GetInt64(5)));
    }

    public bool RevokeApiKey(string id, DateTimeOffset when)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection, "UPDATE api_keys SET revoked_ticks = $when WHERE id = $id AND revoked_ticks IS NULL;",
                ("$id", id), ("$when", when.UtcTicks));
            return command.ExecuteNonQuery() == 1;
        }
    }

    public void SetLicense(LicenseRecord license)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection,
                "INSERT INTO licenses (tenant, key, installed_ticks) VALUES ($tenant, $key, $installed) ON CONFLICT (tenant) DO UPDATE SET key = excluded.key, installed_ticks = excluded.installed_ticks;",
                ("$tenant", license.Tenant), ("$key", license.Key), ("$installed", license.Installed.UtcTicks));
            command.ExecuteNonQuery();
        }
    }

    public LicenseRecord? GetLicense(string tenant) =>
        Query(c => Command(c, "SELECT tenant, key, installed_ticks FROM licenses WHERE tenant = $tenant;", ("$tenant", tenant)),
            r => new LicenseRecord(r.GetString(0), r.GetString(1), Instant(r.GetInt64(2)))).FirstOrDefault();

    public void SetPlan(string tenant, string planJson, DateTimeOffset when)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection,
                "INSERT INTO allocation_plans (tenant, plan, updated_ticks) VALUES ($tenant, $plan, $when) ON CONFLICT (tenant) DO UPDATE SET plan = excluded.plan, updated_ticks = excluded.updated_ticks;",
                ("$tenant", tenant), ("$plan", planJson), ("$when", when.UtcTicks));
            command.ExecuteNonQuery();
        }
    }

    public string? GetPlan(string tenant) =>
        Query(c => Command(c, "SELECT plan FROM allocation_plans WHERE tenant = $tenant;", ("$tenant", tenant)), r => r.GetString(0)).FirstOrDefault();

    /// <summary>
    /// One transaction per batch, three statements whatever its size: the rows go in as JSON arrays that SQLite itself
    /// unpacks (<c>json_each</c>), so the cost per event is SQLite's b-tree work, not a bind-and-step round per row.
    /// The write lock is taken first (BEGIN IMMEDIATE), so the event numbers read at its start are this batch's.
    /// A repeated event id fails the events statement and with it the whole transaction.
    /// </summary>
    public void Append(string tenant, IReadOnlyList<LedgerEntry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }
        var (events, decisions, units) = LedgerRows.Json(entries);
        var (userRollups, periodRollups, hourRollups) = LedgerRows.Json(LedgerRows.Rollup(entries));
        lock (_writeGate)
        {
            var writer = Writer();
            try
            {
                using var tx = writer.Connection.BeginTransaction(deferred: false);
                writer.SetTransaction(tx);
                var first = Convert.ToInt64(writer.LastSeq.ExecuteScalar(), CultureInfo.InvariantCulture) + 1;
                Set(writer.Events, ("$first", first), ("$tenant", tenant), ("$rows", events));
                writer.Events.ExecuteNonQuery();
                Set(writer.Decisions, ("$first", first), ("$tenant", tenant), ("$rows", decisions));
                writer.Decisions.ExecuteNonQuery();
                if (units is not null)
                {
                    Set(writer.Units, ("$first", first), ("$tenant", tenant), ("$rows", units));
                    writer.Units.ExecuteNonQuery();
                }
                Set(writer.UserRollups, ("$tenant", tenant), ("$rows", userRollups));
                writer.UserRollups.ExecuteNonQuery();
                Set(writer.PeriodRollups, ("$tenant", tenant), ("$rows", periodRollups));
                writer.PeriodRollups.ExecuteNonQuery();
                Set(writer.HourRollups, ("$tenant", tenant), ("$rows", hourRollups));
                writer.HourRollups.ExecuteNonQuery();
                tx.Commit();
                writer.SetTransaction(null);
            }
            catch
            {
                // Never reuse a connection a failed batch went through.
                writer.Dispose();
                _writer = null;
                throw;
            }
        }
    }

    private WriteConnection? _writer;

    /// <summary>The append connection, kept open with its statements prepared (under the write gate).</summary>
    private WriteConnection Writer() => _writer ??= new WriteConnection(Open(forWrite: true));

    private sealed class WriteConnection : IDisposable
    {
        public WriteConnection(SqliteConnection connection)
        {
            Connection = connection;
            LastSeq = Command(connection, "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), COALESCE((SELECT MAX(seq) FROM events), 0));");
            Events = Command(connection, """
                INSERT INTO events (seq, tenant, event_id, time_ticks, client_time, user, device, app, action)
                SELECT $first + key, $tenant, value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each($rows);
                """, ("$first", 0L), ("$tenant", ""), ("$rows", "[]"));
            Decisions = Command(connection, """
                INSERT INTO decisions (event_seq, idx, tenant, kind, reason, user, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes)
                SELECT $first + (value->>0), value->>1, $tenant, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10
                FROM json_each($rows);
                """, ("$first", 0L), ("$tenant", ""), ("$rows", "[]"));
            Units = Command(connection, """
                INSERT INTO units (tenant, event_seq, user, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment)
                SELECT $tenant, $first + (value->>0), value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9
                FROM json_each($rows);
                """, ("$first", 0L), ("$tenant", ""), ("$rows", "[]"));
            // "WHERE true": SQLite's upsert after INSERT ... SELECT needs it to parse ON CONFLICT.
            UserRollups = Command(connection, """
                INSERT INTO usage_users (tenant, period, user, units, minutes, denied)
                SELECT $tenant, value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each($rows) WHERE true
                ON CONFLICT (tenant, period, user) DO UPDATE SET
                    units = units + excluded.units, minutes = minutes + excluded.minutes, denied = denied + excluded.denied;
                """, ("$tenant", ""), ("$rows", "[]"));
            PeriodRollups = Command(connection, """
                INSERT INTO usage_periods (tenant, period, pool_units, pool_minutes, denied, events)
                SELECT $tenant, value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each($rows) WHERE true
                ON CONFLICT (tenant, period) DO UPDATE SET pool_units = pool_units + excluded.pool_units,
                    pool_minutes = pool_minutes + excluded.pool_minutes, denied = denied + excluded.denied, events = events + excluded.events;
                """, ("$tenant", ""), ("$rows", "[]"));
            HourRollups = Command(connection, """
                INSERT INTO usage_hours (tenant, hour, pool_minutes)
                SELECT $tenant, value->>0, value->>1 FROM json_each($rows) WHERE true
                ON CONFLICT (tenant, hour) DO UPDATE SET pool_minutes = pool_minutes + excluded.pool_minutes;
                """, ("$tenant", ""), ("$rows", "[]"));
        }

        public SqliteConnection Connection { get; }
        public SqliteCommand LastSeq { get; }
        public SqliteCommand Events { get; }
        public SqliteCommand Decisions { get; }
        public SqliteCommand Units { get; }
        public SqliteCommand UserRollups { get; }
        public SqliteCommand PeriodRollups { get; }
        public SqliteCommand HourRollups { get; }

        public void SetTransaction(SqliteTransaction? tx)
        {
            LastSeq.Transaction = tx;
            Events.Transaction = tx;
            Decisions.Transaction = tx;
            Units.Transaction = tx;
            UserRollups.Transaction = tx;
            PeriodRollups.Transaction = tx;
            HourRollups.Transaction = tx;
        }

        public void Dispose()
        {
            LastSeq.Dispose();
            Events.Dispose();
            Decisions.Dispose();
            Units.Dispose();
            UserRollups.Dispose();
            PeriodRollups.Dispose();
            HourRollups.Dispose();
            Connection.Dispose();
        }
    }

    public IEnumerable<StoredEvent> Events(string tenant)
    {
        using var connection = Open();
        using var command = Command(connection,
            "SELECT seq, event_id, time_ticks, client_time, user, device, app, action FROM events WHERE tenant = $tenant ORDER BY seq;", ("$tenant", tenant));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new StoredEvent(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7));
        }
    }

    public long EventCount(string tenant) => Long("SELECT COUNT(*) FROM events WHERE tenant = $tenant;", ("$tenant", tenant));

    public IReadOnlySet<string> KnownEventIds(string tenant, IReadOnlyCollection<string> eventIds) =>
        eventIds.Count == 0
            ? new HashSet<string>()
            // One parameter, a JSON array, however many ids: each is one probe of the (tenant, event_id) unique index.
            : Query(c => Command(c, "SELECT event_id FROM events WHERE tenant = $tenant AND event_id IN (SELECT value FROM json_each($ids));",
                    ("$tenant", tenant), ("$ids", System.Text.Json.JsonSerializer.Serialize(eventIds))), r => r.GetString(0))
                .ToHashSet(StringComparer.Ordinal);

    // Period and user totals come from the v4 rollups, which Append keeps in step with the rows.
    public PeriodUsage PeriodUsage(string tenant, string period) =>
        Query(c => Command(c, "SELECT pool_units, pool_minutes, denied, events FROM usage_periods WHERE tenant = $tenant AND period = $period;",
            ("$tenant", tenant), ("$period", period)), r => new PeriodUsage(period, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)))
            .FirstOrDefault() ?? new PeriodUsage(period, 0, 0, 0, 0);

    public IReadOnlyList<UserUsage> UserUsage(string tenant, string period) =>
        Query(c => Command(c, "SELECT user, units, minutes, denied FROM usage_users WHERE tenant = $tenant AND period = $period ORDER BY minutes DESC, units DESC, user;",
            ("$tenant", tenant), ("$period", period)),
            r => new UserUsage(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)));

    public IReadOnlyList<AppUsage> AppUsage(string tenant, string period) =>
        Query(c => Command(c, "SELECT app, COUNT(*), SUM(minutes) FROM units WHERE tenant = $tenant AND period = $period GROUP BY app ORDER BY COUNT(*) DESC, app;",
            ("$tenant", tenant), ("$period", period)),
            r => new AppUsage(r.GetString(0), r.GetInt64(1), r.GetInt64(2)));

    public UnitPage Units(string tenant, UnitQuery query)
    {
        var (after, order) = UnitOrder.Sql(query);
        var sql = "SELECT id, user, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment FROM units WHERE tenant = $tenant"
            + (query.After is null ? "" : $" AND (end_ticks, id) {after} ($afterEnd, $afterId)")
            + (query.EndFromTicks is null ? "" : query.EndFromInclusive ? " AND end_ticks >= $from" : " AND end_ticks > $from")
            + (query.EndToTicks is null ? "" : query.EndToInclusive ? " AND end_ticks <= $to" : " AND end_ticks < $to")
            + $" ORDER BY {order} LIMIT $limit;";
        var rows = Query(c => Command(c, sql, ("$tenant", tenant), ("$afterEnd", query.After?.EndTicks ?? 0L), ("$afterId", query.After?.Id ?? 0L),
                ("$from", query.EndFromTicks ?? 0L), ("$to", query.EndToTicks ?? 0L), ("$limit", query.Limit + 1)),
            r => new StoredUnit(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt64(5), r.GetInt64(6), r.GetInt32(7), r.GetString(8), r.GetString(9)));
        return UnitOrder.Page(rows, query.Limit);
    }

    public long DistinctUsers(string tenant, string period, string licenseUsage) =>
        Long("SELECT COUNT(DISTINCT user) FROM units WHERE tenant = $tenant AND period = $period AND license_usage = $usage;",
            ("$tenant", tenant), ("$period", period), ("$usage", licenseUsage));

    public long? FirstEventTicks(string tenant) =>
        Query(c => Command(c, "SELECT MIN(time_ticks) FROM events WHERE tenant = $tenant;", ("$tenant", tenant)),
            r => r.IsDBNull(0) ? (long?)null : r.GetInt64(0))[0];

    // Whole hours inside [from, to) come from the hourly rollup; the partial hours at either edge from the units.
    public IReadOnlyList<HourlyMinutes> HourlyPoolMinutes(string tenant, long fromTicks, long toTicks) =>
        LedgerRows.HourlyFromRollup(fromTicks, toTicks,
            (from, to) => Query(c => Command(c, """
                SELECT start_ticks / 36000000000 * 36000000000 AS hour, SUM(minutes) FROM units
                WHERE tenant = $tenant AND license_usage = 'time' AND start_ticks >= $from AND start_ticks < $to
                GROUP BY hour ORDER BY hour;
                """, ("$tenant", tenant), ("$from", from), ("$to", to)),
                r => new HourlyMinutes(r.GetInt64(0), r.GetInt64(1))),
            (from, to) => Query(c => Command(c, "SELECT hour, pool_minutes FROM usage_hours WHERE tenant = $tenant AND hour >= $from AND hour < $to ORDER BY hour;",
                ("$tenant", tenant), ("$from", from), ("$to", to)),
                r => new HourlyMinutes(r.GetInt64(0), r.GetInt64(1))));

    public IReadOnlyList<UserHourUsage> UserHours(string tenant, long fromTicks, long toTicks) =>
        Query(c => Command(c, """
            SELECT hour, user, SUM(units), SUM(minutes), SUM(denied) FROM (
                SELECT start_ticks / 36000000000 * 36000000000 AS hour, user, 1 AS units, minutes, 0 AS denied
                FROM units WHERE tenant = $tenant AND start_ticks >= $from AND start_ticks < $to
                UNION ALL
                SELECT e.time_ticks / 36000000000 * 36000000000, d.user, 0, 0, 1
                FROM decisions d JOIN events e ON e.seq = d.event_seq
                WHERE d.tenant = $tenant AND d.kind = 'denied' AND e.time_ticks >= $from AND e.time_ticks < $to) x
            GROUP BY hour, user ORDER BY hour, user;
            """, ("$tenant", tenant), ("$from", fromTicks), ("$to", toTicks)),
            r => new UserHourUsage(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)));

    // One grouped pass per table, joined by user (or app): a correlated subquery per row would scan the period's
    // events once per user, which takes minutes at a million units.
    public IReadOnlyList<UserActivity> UserActivity(string tenant, string period, long fromTicks, long toTicks) =>
        Query(c => Command(c, """
            WITH t AS (
                SELECT user, SUM(units) AS units, SUM(minutes) AS minutes, SUM(denied) AS denied, COUNT(DISTINCT app) AS apps FROM (
                    SELECT user, 1 AS units, minutes, 0 AS denied, app FROM units WHERE tenant = $tenant AND period = $period
                    UNION ALL
                    SELECT user, 0, 0, 1, NULL FROM decisions WHERE tenant = $tenant AND period = $period AND kind = 'denied') x
                GROUP BY user),
            last AS (
                SELECT user, MAX(time_ticks) AS last_ticks FROM events
                WHERE tenant = $tenant AND time_ticks >= $from AND time_ticks < $to GROUP BY user),
            latest AS (
                SELECT user, MAX(id) AS id FROM units WHERE tenant = $tenant AND period = $period GROUP BY user)
            SELECT t.user, t.units, t.minutes, t.denied, t.apps, last.last_ticks, u.allotment
            FROM t
            LEFT JOIN last ON last.user = t.user
            LEFT JOIN latest ON latest.user = t.user
            LEFT JOIN units u ON u.id = latest.id;
            """, ("$tenant", tenant), ("$period", period), ("$from", fromTicks), ("$to", toTicks)),
            r => new UserActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4),
                r.IsDBNull(5) ? null : r.GetInt64(5), r.IsDBNull(6) ? null : r.GetString(6)));

    public IReadOnlyList<AppActivity> AppActivity(string tenant, string period, long fromTicks, long toTicks) =>
        Query(c => Command(c, """
            WITH t AS (
                SELECT app, COUNT(*) AS units, SUM(minutes) AS minutes, COUNT(DISTINCT user) AS users
                FROM units WHERE tenant = $tenant AND period = $period GROUP BY app),
            last AS (
                SELECT app, MAX(time_ticks) AS last_ticks FROM events
                WHERE tenant = $tenant AND time_ticks >= $from AND time_ticks < $to GROUP BY app)
            SELECT t.app, t.units, t.minutes, t.users, last.last_ticks FROM t LEFT JOIN last ON last.app = t.app;
            """, ("$tenant", tenant), ("$period", period), ("$from", fromTicks), ("$to", toTicks)),
            r => new AppActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.IsDBNull(4) ? null : r.GetInt64(4)));

    public IReadOnlyList<UserDenials> Denials(string tenant, string period) =>
        Query(c => Command(c, """
            SELECT user, COALESCE(reason, ''), COUNT(*) FROM decisions
            WHERE tenant = $tenant AND period = $period AND kind = 'denied' GROUP BY user, reason;
            """, ("$tenant", tenant), ("$period", period)),
            r => new UserDenials(r.GetString(0), r.GetString(1), r.GetInt64(2)));

    // One statement counts and inserts: SQLite takes the database's write lock before the statement reads, so no
    // other writer (another thread or another process) can add a row between the count and the insert.
    public bool TryAddAlertChannel(AlertChannelRecord channel, int limit) => Write("""
        INSERT INTO alert_channels (id, tenant, kind, name, target, secret, created_ticks)
        SELECT $id, $tenant, $kind, $name, $target, $secret, $created
        WHERE (SELECT COUNT(*) FROM alert_channels WHERE tenant = $tenant) < $limit;
        """,
        ("$id", channel.Id), ("$tenant", channel.Tenant), ("$kind", channel.Kind), ("$name", channel.Name), ("$target", channel.Target),
        ("$secret", channel.Secret), ("$created", channel.Created.UtcTicks), ("$limit", limit)) == 1;

    public IReadOnlyList<AlertChannelRecord> AlertChannels(string tenant) =>
        Query(c => Command(c, "SELECT id, tenant, kind, name, target, secret, created_ticks FROM alert_channels WHERE tenant = $tenant ORDER BY created_ticks, id;", ("$tenant", tenant)),
            r => new AlertChannelRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), Instant(r.GetInt64(6))));

    public bool DeleteAlertChannel(string tenant, string id) =>
        Write("DELETE FROM alert_channels WHERE tenant = $tenant AND id = $id;", ("$tenant", tenant), ("$id", id)) == 1;

    public bool TryAddAlertRule(AlertRuleRecord rule, int limit) => Write("""
        INSERT INTO alert_rules (id, tenant, name, kind, value, channel_ids, created_ticks)
        SELECT $id, $tenant, $name, $kind, $value, $channels, $created
        WHERE (SELECT COUNT(*) FROM alert_rules WHERE tenant = $tenant) < $limit;
        """,
        ("$id", rule.Id), ("$tenant", rule.Tenant), ("$name", rule.Name), ("$kind", rule.Kind), ("$value", rule.Value),
        ("$channels", string.Join(',', rule.ChannelIds)), ("$created", rule.Created.UtcTicks), ("$limit", limit)) == 1;

    public IReadOnlyList<AlertRuleRecord> AlertRules(string tenant) =>
        Query(c => Command(c, "SELECT id, tenant, name, kind, value, channel_ids, created_ticks FROM alert_rules WHERE tenant = $tenant ORDER BY created_ticks, id;", ("$tenant", tenant)),
            r => new AlertRuleRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetDouble(4),
                r.GetString(5).Split(',', StringSplitOptions.RemoveEmptyEntries), Instant(r.GetInt64(6))));

    public bool DeleteAlertRule(string tenant, string id) =>
        Write("DELETE FROM alert_rules WHERE tenant = $tenant AND id = $id;", ("$tenant", tenant), ("$id", id)) == 1;

    public bool ClaimAlert(AlertClaim claim) => Write(
        "INSERT INTO alert_fired (tenant, rule_id, period, subject, fired_ticks) VALUES ($tenant, $rule, $period, $subject, $fired) ON CONFLICT DO NOTHING;",
        ("$tenant", claim.Tenant), ("$rule", claim.RuleId), ("$period", claim.Period), ("$subject", claim.Subject), ("$fired", claim.FiredAt.UtcTicks)) == 1;

    public long AddAlertHistory(AlertHistoryRecord record)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection, """
                INSERT INTO alert_history (tenant, rule_id, rule_kind, period, subject, fired_ticks, channel_id, channel_kind, status, message, detail)
                VALUES ($tenant, $rule, $kind, $period, $subject, $fired, $channel, $channelKind, $status, $message, $detail) RETURNING id;
                """,
                ("$tenant", record.Tenant), ("$rule", record.RuleId), ("$kind", record.RuleKind), ("$period", record.Period), ("$subject", record.Subject),
                ("$fired", record.FiredAt.UtcTicks), ("$channel", record.ChannelId), ("$channelKind", record.ChannelKind), ("$status", record.Status),
                ("$message", record.Message), ("$detail", record.Detail));
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
    }

    public IReadOnlyList<AlertHistoryRecord> AlertHistory(string tenant, long beforeId, int limit) =>
        Query(c => Command(c, """
            SELECT id, tenant, rule_id, rule_kind, period, subject, fired_ticks, channel_id, channel_kind, status, message, detail
            FROM alert_history WHERE tenant = $tenant AND ($before = 0 OR id < $before) ORDER BY id DESC LIMIT $limit;
            """, ("$tenant", tenant), ("$before", beforeId), ("$limit", limit)),
            r => new AlertHistoryRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), Instant(r.GetInt64(6)),
                r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), r.GetString(9), r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)));

    private int Write(string sql, params (string Name, object? Value)[] parameters)
    {
        lock (_writeGate)
        {
            using var connection = Open(forWrite: true);
            using var command = Command(connection, sql, parameters);
            return command.ExecuteNonQuery();
        }
    }

    public string? CheckWritable()
    {
        try
        {
            lock (_writeGate)
            {
                // Never pooled (see Open): each check sees the file as it is now.
                using var connection = Open(forWrite: true);
                using var tx = connection.BeginTransaction(deferred: false);
                var version = Convert.ToInt32(Scalar(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version;", tx), CultureInfo.InvariantCulture);
                if (version != CurrentSchemaVersion)
                {
                    return $"{Path} has schema version {version}; this Tally uses {CurrentSchemaVersion}";
                }
                // The commit must write a WAL frame: a read-only file, folder or mount, or a full disk, fails here as it
                // would fail the next group commit.
                Execute(connection, WriteCheck.Sql, tx);
                tx.Commit();
                return null;
            }
        }
        catch (SqliteException e)
        {
            return $"{Path}: {e.Message}";
        }
    }

    public void Dispose()
    {
        lock (_writeGate)
        {
            _writer?.Dispose();
            _writer = null;
        }
        SqliteConnection.ClearAllPools();
    }

    private long Long(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = Open();
        using var command = Command(connection, sql, parameters);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private List<T> Query<T>(Func<SqliteConnection, SqliteCommand> build, Func<SqliteDataReader, T> read)
    {
        using var connection = Open();
        using var command = build(connection);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    private static void Set(SqliteCommand command, params (string Name, object? Value)[] parameters)
    {
        foreach (var (name, value) in parameters)
        {
            command.Parameters[name].Value = value ?? DBNull.Value;
        }
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        return command.ExecuteScalar();
    }

    private static DateTimeOffset Instant(long ticks) => new(ticks, TimeSpan.Zero);
}
