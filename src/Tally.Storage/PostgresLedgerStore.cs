using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace Tally.Storage;

/// <summary>
/// The PostgreSQL ledger, for production and for several nodes on one database. Tables live in the connection's
/// search path (a schema per installation is fine). <see cref="Initialize"/> migrates under a transaction-scoped
/// advisory lock, so nodes that start together apply each step once. <see cref="Append"/> writes a whole batch with
/// binary COPY in one transaction; the UNIQUE (tenant, event_id) constraint rejects a repeated id inside that same
/// transaction, so an id is never claimed apart from its event.
/// </summary>
public sealed class PostgresLedgerStore : ILedgerStore
{
    public const int CurrentSchemaVersion = 6;

    private readonly NpgsqlDataSource _source;

    public PostgresLedgerStore(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // A readable name in pg_stat_activity unless the operator chose one.
        builder.ApplicationName ??= "tally";
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
        Description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}" + (builder.SearchPath is { Length: > 0 } path ? $" (schema {path})" : "");
    }

    /// <summary>Where the ledger is, without credentials (for logs).</summary>
    public string Description { get; }

    public void Initialize()
    {
        try
        {
            Migrate();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw new LedgerOpenException($"Could not open the ledger in {Description}: {e.Message}", e);
        }
    }

    private void Migrate()
    {
        using var connection = _source.OpenConnection();
        using var tx = connection.BeginTransaction();
        // Two nodes starting at once: the second waits here until the first has committed its migration, then sees it.
        Execute(connection, tx, "SELECT pg_advisory_xact_lock(hashtext('tally-ledger-migration:' || current_schema()));");
        Execute(connection, tx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL);");
        var version = Convert.ToInt32(Scalar(connection, tx, "SELECT COALESCE(MAX(version), 0) FROM schema_version;"), CultureInfo.InvariantCulture);
        if (version > CurrentSchemaVersion)
        {
            throw new LedgerOpenException($"The database {Description} has schema version {version}, newer than this Tally ({CurrentSchemaVersion}). Upgrade Tally or restore a matching backup.");
        }
        foreach (var (step, name, sql) in Migrations)
        {
            if (version < step)
            {
                Execute(connection, tx, sql);
                using var record = new NpgsqlCommand("INSERT INTO schema_version (version, applied) VALUES ($1, $2);", connection, tx);
                record.Parameters.Add(new NpgsqlParameter { Value = step });
                record.Parameters.Add(new NpgsqlParameter { Value = name });
                record.ExecuteNonQuery();
            }
        }
        tx.Commit();
    }

    /// <summary>Every schema step in order; the same versions as the SQLite ledger, so one contract maps to one schema history.</summary>
    private static readonly (int Version, string Name, string Sql)[] Migrations =
    [
        (1, "v1", SchemaV1),
        (2, "v2: terms changes", SchemaV2),
        (3, "v3: monitoring and alerts", SchemaV3),
        (4, "v4: report rollups", SchemaV4),
        (5, "v5: units by end time", UnitOrder.SchemaV5),
        (6, "v6: write checks", WriteCheck.SchemaV6),
    ];

    // "user" is reserved in PostgreSQL, hence user_name. Ticks are UTC ticks as on SQLite.
    private const string SchemaV1 = """
        CREATE TABLE tenants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_ticks BIGINT NOT NULL);
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            hash BYTEA NOT NULL UNIQUE,
            tenant TEXT NULL REFERENCES tenants(id),
            role TEXT NOT NULL,
            created_ticks BIGINT NOT NULL,
            revoked_ticks BIGINT NULL);
        CREATE TABLE licenses (
            tenant TEXT PRIMARY KEY REFERENCES tenants(id),
            key TEXT NOT NULL,
            installed_ticks BIGINT NOT NULL);
        CREATE TABLE allocation_plans (
            tenant TEXT PRIMARY KEY REFERENCES tenants(id),
            plan TEXT NOT NULL,
            updated_ticks BIGINT NOT NULL);
        CREATE SEQUENCE events_seq;
        CREATE TABLE events (
            seq BIGINT PRIMARY KEY DEFAULT nextval('events_seq'),
            tenant TEXT NOT NULL REFERENCES tenants(id),
            event_id TEXT NULL,
            time_ticks BIGINT NOT NULL,
            client_time TEXT NULL,
            user_name TEXT NOT NULL,
            device TEXT NOT NULL,
            app TEXT NOT NULL,
            action TEXT NOT NULL,
            CONSTRAINT events_tenant_event_id UNIQUE (tenant, event_id));
        ALTER SEQUENCE events_seq OWNED BY events.seq;
        CREATE INDEX events_tenant_seq ON events (tenant, seq);
        CREATE TABLE decisions (
            event_seq BIGINT NOT NULL REFERENCES events(seq),
            idx INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NULL,
            user_name TEXT NOT NULL,
            app TEXT NOT NULL,
            period TEXT NOT NULL,
            unit_start_ticks BIGINT NOT NULL,
            unit_end_ticks BIGINT NOT NULL,
            retry_after_ticks BIGINT NOT NULL,
            minutes INTEGER NOT NULL,
            PRIMARY KEY (event_seq, idx));
        CREATE INDEX decisions_tenant_period ON decisions (tenant, period, kind);
        CREATE TABLE units (
            id BIGSERIAL PRIMARY KEY,
            tenant TEXT NOT NULL,
            event_seq BIGINT NOT NULL REFERENCES events(seq),
            user_name TEXT NOT NULL,
            device TEXT NOT NULL,
            app TEXT NOT NULL,
            period TEXT NOT NULL,
            start_ticks BIGINT NOT NULL,
            end_ticks BIGINT NOT NULL,
            minutes INTEGER NOT NULL,
            license_usage TEXT NOT NULL,
            allotment TEXT NOT NULL);
        CREATE INDEX units_tenant_period ON units (tenant, period);
        CREATE INDEX units_tenant_id ON units (tenant, id);
        """;

    // v2: license and plan changes at their position in the event stream, so a rebuild re-applies them in place.
    private const string SchemaV2 = """
        CREATE TABLE terms_changes (
            id BIGSERIAL PRIMARY KEY,
            tenant TEXT NOT NULL REFERENCES tenants(id),
            after_events BIGINT NOT NULL,
            license_key TEXT NULL,
            plan TEXT NULL,
            at_ticks BIGINT NOT NULL);
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
            created_ticks BIGINT NOT NULL);
        CREATE TABLE alert_rules (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL REFERENCES tenants(id),
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            value DOUBLE PRECISION NULL,
            channel_ids TEXT NOT NULL,
            created_ticks BIGINT NOT NULL);
        CREATE TABLE alert_fired (
            tenant TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            period TEXT NOT NULL,
            subject TEXT NOT NULL,
            fired_ticks BIGINT NOT NULL,
            PRIMARY KEY (tenant, rule_id, period, subject));
        CREATE TABLE alert_history (
            id BIGSERIAL PRIMARY KEY,
            tenant TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_kind TEXT NOT NULL,
            period TEXT NOT NULL,
            subject TEXT NOT NULL,
            fired_ticks BIGINT NOT NULL,
            channel_id TEXT NULL,
            channel_kind TEXT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL,
            detail TEXT NULL);
        CREATE INDEX alert_history_tenant ON alert_history (tenant, id);
        """;

    // v4: rollups the reports read instead of scanning a month of rows; Append keeps them in its transaction, this
    // step fills them from existing rows.
    private const string SchemaV4 = """
        CREATE TABLE usage_users (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            user_name TEXT NOT NULL,
            units BIGINT NOT NULL,
            minutes BIGINT NOT NULL,
            denied BIGINT NOT NULL,
            PRIMARY KEY (tenant, period, user_name));
        CREATE TABLE usage_periods (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            pool_units BIGINT NOT NULL,
            pool_minutes BIGINT NOT NULL,
            denied BIGINT NOT NULL,
            events BIGINT NOT NULL,
            PRIMARY KEY (tenant, period));
        CREATE TABLE usage_hours (
            tenant TEXT NOT NULL,
            hour BIGINT NOT NULL,
            pool_minutes BIGINT NOT NULL,
            PRIMARY KEY (tenant, hour));
        INSERT INTO usage_users (tenant, period, user_name, units, minutes, denied)
        SELECT tenant, period, user_name, SUM(units), SUM(minutes), SUM(denied) FROM (
            SELECT tenant, period, user_name, 1 AS units, minutes, 0 AS denied FROM units
            UNION ALL
            SELECT tenant, period, user_name, 0, 0, 1 FROM decisions WHERE kind = 'denied') x
        GROUP BY tenant, period, user_name;
        INSERT INTO usage_periods (tenant, period, pool_units, pool_minutes, denied, events)
        SELECT tenant, period, SUM(pu), SUM(pm), SUM(d), SUM(e) FROM (
            SELECT tenant, period, 1 AS pu, minutes AS pm, 0 AS d, 0::bigint AS e FROM units WHERE license_usage = 'time'
            UNION ALL
            SELECT tenant, period, 0, 0, 1, 0 FROM decisions WHERE kind = 'denied'
            UNION ALL
            SELECT tenant, period, 0, 0, 0, COUNT(DISTINCT event_seq) FROM decisions GROUP BY tenant, period) x
        GROUP BY tenant, period;
        INSERT INTO usage_hours (tenant, hour, pool_minutes)
        SELECT tenant, start_ticks / 36000000000 * 36000000000, SUM(minutes) FROM units WHERE license_usage = 'time' GROUP BY 1, 2;
        """;

    public void RecordTermsChange(string tenant, TermsChange change) =>
        NonQuery("INSERT INTO terms_changes (tenant, after_events, license_key, plan, at_ticks) VALUES ($1, $2, $3, $4, $5);",
            tenant, change.AfterEvents, change.LicenseKey, change.PlanJson, change.At.UtcTicks);

    public IReadOnlyList<TermsChange> TermsChanges(string tenant) =>
        Query("SELECT after_events, license_key, plan, at_ticks FROM terms_changes WHERE tenant = $1 ORDER BY id;",
            r => new TermsChange(r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), Instant(r.GetInt64(3))), tenant);

    public int SchemaVersion() => (int)Long("SELECT COALESCE(MAX(version), 0) FROM schema_version;");

    public bool CreateTenant(TenantRecord tenant) =>
        NonQuery("INSERT INTO tenants (id, name, created_ticks) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING;",
            tenant.Id, tenant.Name, tenant.Created.UtcTicks) == 1;

    public TenantRecord? GetTenant(string id) =>
        Query("SELECT id, name, created_ticks FROM tenants WHERE id = $1;", ReadTenant, id).FirstOrDefault();

    // COLLATE "C": the same byte order SQLite uses, whatever the database's locale.
    public IReadOnlyList<TenantRecord> Tenants() =>
        Query("SELECT id, name, created_ticks FROM tenants ORDER BY id COLLATE \"C\";", ReadTenant);

    private static TenantRecord ReadTenant(NpgsqlDataReader r) => new(r.GetString(0), r.GetString(1), Instant(r.GetInt64(2)));

    public void AddApiKey(ApiKeyRecord key) =>
        NonQuery("INSERT INTO api_keys (id, hash, tenant, role, created_ticks, revoked_ticks) VALUES ($1, $2, $3, $4, $5, $6);",
            key.Id, key.Hash, key.Tenant, key.Role.ToWire(), key.Created.UtcTicks, key.Revoked?.UtcTicks);

    private const string KeyColumns = "SELECT id, hash, tenant, role, created_ticks, revoked_ticks FROM api_keys";

    public ApiKeyRecord? FindApiKey(byte[] hash) => Query(KeyColumns + " WHERE hash = $1;", ReadKey, hash).FirstOrDefault();

    public ApiKeyRecord? GetApiKey(string id) => Query(KeyColumns + " WHERE id = $1;", ReadKey, id).FirstOrDefault();

    public IReadOnlyList<ApiKeyRecord> ApiKeys(string? tenant) => tenant is null
        ? Query(KeyColumns + " WHERE tenant IS NULL ORDER BY created_ticks, id COLLATE \"C\";", ReadKey)
        : Query(KeyColumns + " WHERE tenant = $1 ORDER BY created_ticks, id COLLATE \"C\";", ReadKey, tenant);

    public bool HasActiveKey(ApiRole role) =>
        Query("SELECT 1 FROM api_keys WHERE role = $1 AND revoked_ticks IS NULL LIMIT 1;", _ => true, role.ToWire()).Count > 0;

    private static ApiKeyRecord ReadKey(NpgsqlDataReader r)
    {
        ApiRoles.TryParse(r.GetString(3), out var role);
        return new ApiKeyRecord(r.GetString(0), (byte[])r[1], r.IsDBNull(2) ? null : r.GetString(2), role,
            Instant(r.GetInt64(4)), r.IsDBNull(5) ? null : Instant(r.GetInt64(5)));
    }

    public bool RevokeApiKey(string id, DateTimeOffset when) =>
        NonQuery("UPDATE api_keys SET revoked_ticks = $2 WHERE id = $1 AND revoked_ticks IS NULL;", id, when.UtcTicks) == 1;

    public void SetLicense(LicenseRecord license) =>
        NonQuery("INSERT INTO licenses (tenant, key, installed_ticks) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO UPDATE SET key = excluded.key, installed_ticks = excluded.installed_ticks;",
            license.Tenant, license.Key, license.Installed.UtcTicks);

    public LicenseRecord? GetLicense(string tenant) =>
        Query("SELECT tenant, key, installed_ticks FROM licenses WHERE tenant = $1;",
            r => new LicenseRecord(r.GetString(0), r.GetString(1), Instant(r.GetInt64(2))), tenant).FirstOrDefault();

    public void SetPlan(string tenant, string planJson, DateTimeOffset when) =>
        NonQuery("INSERT INTO allocation_plans (tenant, plan, updated_ticks) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO UPDATE SET plan = excluded.plan, updated_ticks = excluded.updated_ticks;",
            tenant, planJson, when.UtcTicks);

    public string? GetPlan(string tenant) =>
        Query("SELECT plan FROM allocation_plans WHERE tenant = $1;", r => r.GetString(0), tenant).FirstOrDefault();

    public long? FirstEventTicks(string tenant) =>
        Query("SELECT MIN(time_ticks) FROM events WHERE tenant = $1;", r => r.IsDBNull(0) ? (long?)null : r.GetInt64(0), tenant)[0];

    // Whole hours inside [from, to) come from the hourly rollup; the partial hours at either edge from the units.
    public IReadOnlyList<HourlyMinutes> HourlyPoolMinutes(string tenant, long fromTicks, long toTicks) =>
        LedgerRows.HourlyFromRollup(fromTicks, toTicks,
            (from, to) => Query("""
                SELECT start_ticks / 36000000000 * 36000000000 AS hour, SUM(minutes)::bigint FROM units
                WHERE tenant = $1 AND license_usage = 'time' AND start_ticks >= $2 AND start_ticks < $3
                GROUP BY hour ORDER BY hour;
                """,
                r => new HourlyMinutes(r.GetInt64(0), r.GetInt64(1)), tenant, from, to),
            (from, to) => Query("SELECT hour, pool_minutes FROM usage_hours WHERE tenant = $1 AND hour >= $2 AND hour < $3 ORDER BY hour;",
                r => new HourlyMinutes(r.GetInt64(0), r.GetInt64(1)), tenant, from, to));

    public IReadOnlyList<UserHourUsage> UserHours(string tenant, long fromTicks, long toTicks) =>
        Query("""
            SELECT hour, user_name, SUM(units)::bigint, SUM(minutes)::bigint, SUM(denied)::bigint FROM (
                SELECT start_ticks / 36000000000 * 36000000000 AS hour, user_name, 1 AS units, minutes, 0 AS denied
                FROM units WHERE tenant = $1 AND start_ticks >= $2 AND start_ticks < $3
                UNION ALL
                SELECT e.time_ticks / 36000000000 * 36000000000, d.user_name, 0, 0, 1
                FROM decisions d JOIN events e ON e.seq = d.event_seq
                WHERE d.tenant = $1 AND d.kind = 'denied' AND e.time_ticks >= $2 AND e.time_ticks < $3) x
            GROUP BY hour, user_name ORDER BY hour, user_name COLLATE "C";
            """,
            r => new UserHourUsage(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)), tenant, fromTicks, toTicks);

    // One grouped pass per table, joined by user (or app), as in SQLite: no per-row correlated subqueries.
    public IReadOnlyList<UserActivity> UserActivity(string tenant, string period, long fromTicks, long toTicks) =>
        Query("""
            WITH t AS (
                SELECT user_name, SUM(units)::bigint AS units, SUM(minutes)::bigint AS minutes, SUM(denied)::bigint AS denied, COUNT(DISTINCT app) AS apps FROM (
                    SELECT user_name, 1 AS units, minutes, 0 AS denied, app FROM units WHERE tenant = $1 AND period = $2
                    UNION ALL
                    SELECT user_name, 0, 0, 1, NULL FROM decisions WHERE tenant = $1 AND period = $2 AND kind = 'denied') x
                GROUP BY user_name),
            last AS (
                SELECT user_name, MAX(time_ticks) AS last_ticks FROM events
                WHERE tenant = $1 AND time_ticks >= $3 AND time_ticks < $4 GROUP BY user_name),
            latest AS (
                SELECT user_name, MAX(id) AS id FROM units WHERE tenant = $1 AND period = $2 GROUP BY user_name)
            SELECT t.user_name, t.units, t.minutes, t.denied, t.apps, last.last_ticks, u.allotment
            FROM t
            LEFT JOIN last ON last.user_name = t.user_name
            LEFT JOIN latest ON latest.user_name = t.user_name
            LEFT JOIN units u ON u.id = latest.id;
            """,
            r => new UserActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4),
                r.IsDBNull(5) ? null : r.GetInt64(5), r.IsDBNull(6) ? null : r.GetString(6)),
            tenant, period, fromTicks, toTicks);

    public IReadOnlyList<AppActivity> AppActivity(string tenant, string period, long fromTicks, long toTicks) =>
        Query("""
            WITH t AS (
                SELECT app, COUNT(*) AS units, SUM(minutes)::bigint AS minutes, COUNT(DISTINCT user_name) AS users
                FROM units WHERE tenant = $1 AND period = $2 GROUP BY app),
            last AS (
                SELECT app, MAX(time_ticks) AS last_ticks FROM events
                WHERE tenant = $1 AND time_ticks >= $3 AND time_ticks < $4 GROUP BY app)
            SELECT t.app, t.units, t.minutes, t.users, last.last_ticks FROM t LEFT JOIN last ON last.app = t.app;
            """,
            r => new AppActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.IsDBNull(4) ? null : r.GetInt64(4)),
            tenant, period, fromTicks, toTicks);

    public IReadOnlyList<UserDenials> Denials(string tenant, string period) =>
        Query("""
            SELECT user_name, COALESCE(reason, ''), COUNT(*) FROM decisions
            WHERE tenant = $1 AND period = $2 AND kind = 'denied' GROUP BY user_name, reason;
            """,
            r => new UserDenials(r.GetString(0), r.GetString(1), r.GetInt64(2)),
            tenant, period);

    public bool TryAddAlertChannel(AlertChannelRecord channel, int limit) =>
        InsertUnderLimit("alert_channels", channel.Tenant, limit,
            "INSERT INTO alert_channels (id, tenant, kind, name, target, secret, created_ticks) VALUES ($1, $2, $3, $4, $5, $6, $7);",
            channel.Id, channel.Tenant, channel.Kind, channel.Name, channel.Target, channel.Secret, channel.Created.UtcTicks);

    public IReadOnlyList<AlertChannelRecord> AlertChannels(string tenant) =>
        Query("SELECT id, tenant, kind, name, target, secret, created_ticks FROM alert_channels WHERE tenant = $1 ORDER BY created_ticks, id COLLATE \"C\";",
            r => new AlertChannelRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), Instant(r.GetInt64(6))),
            tenant);

    public bool DeleteAlertChannel(string tenant, string id) =>
        NonQuery("DELETE FROM alert_channels WHERE tenant = $1 AND id = $2;", tenant, id) == 1;

    public bool TryAddAlertRule(AlertRuleRecord rule, int limit) =>
        InsertUnderLimit("alert_rules", rule.Tenant, limit,
            "INSERT INTO alert_rules (id, tenant, name, kind, value, channel_ids, created_ticks) VALUES ($1, $2, $3, $4, $5, $6, $7);",
            rule.Id, rule.Tenant, rule.Name, rule.Kind, rule.Value, string.Join(',', rule.ChannelIds), rule.Created.UtcTicks);

    /// <summary>
    /// Runs <paramref name="insert"/> only while the tenant has fewer than <paramref name="limit"/> rows in
    /// <paramref name="table"/>. Under READ COMMITTED two transactions could count the same rows and both insert, so a
    /// transaction-scoped advisory lock on (table, tenant) makes count-then-insert one step for every process sharing
    /// the database; it is released at commit, after which the next waiter's count sees the new row.
    /// </summary>
    private bool InsertUnderLimit(string table, string tenant, int limit, string insert, params object?[] parameters)
    {
        using var connection = _source.OpenConnection();
        using var tx = connection.BeginTransaction();
        using (var gate = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 0));", connection, tx))
        {
            gate.Parameters.Add(new NpgsqlParameter { Value = $"tally:{table}:{tenant}" });
            gate.ExecuteNonQuery();
        }
        using (var count = new NpgsqlCommand($"SELECT COUNT(*) FROM {table} WHERE tenant = $1;", connection, tx))
        {
            count.Parameters.Add(new NpgsqlParameter { Value = tenant });
            if (Convert.ToInt64(count.ExecuteScalar(), CultureInfo.InvariantCulture) >= limit)
            {
                return false; // disposing the transaction rolls it back and releases the lock
            }
        }
        using (var command = Command(connection, insert, parameters))
        {
            command.Transaction = tx;
            command.ExecuteNonQuery();
        }
        tx.Commit();
        return true;
    }

    public IReadOnlyList<AlertRuleRecord> AlertRules(string tenant) =>
        Query("SELECT id, tenant, name, kind, value, channel_ids, created_ticks FROM alert_rules WHERE tenant = $1 ORDER BY created_ticks, id COLLATE \"C\";",
            r => new AlertRuleRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetDouble(4),
                r.GetString(5).Split(',', StringSplitOptions.RemoveEmptyEntries), Instant(r.GetInt64(6))),
            tenant);

    public bool DeleteAlertRule(string tenant, string id) =>
        NonQuery("DELETE FROM alert_rules WHERE tenant = $1 AND id = $2;", tenant, id) == 1;

    public bool ClaimAlert(AlertClaim claim) =>
        NonQuery("INSERT INTO alert_fired (tenant, rule_id, period, subject, fired_ticks) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING;",
            claim.Tenant, claim.RuleId, claim.Period, claim.Subject, claim.FiredAt.UtcTicks) == 1;

    public long AddAlertHistory(AlertHistoryRecord record) =>
        Long("""
            INSERT INTO alert_history (tenant, rule_id, rule_kind, period, subject, fired_ticks, channel_id, channel_kind, status, message, detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id;
            """,
            record.Tenant, record.RuleId, record.RuleKind, record.Period, record.Subject, record.FiredAt.UtcTicks, record.ChannelId, record.ChannelKind,
            record.Status, record.Message, record.Detail);

    public IReadOnlyList<AlertHistoryRecord> AlertHistory(string tenant, long beforeId, int limit) =>
        Query("""
            SELECT id, tenant, rule_id, rule_kind, period, subject, fired_ticks, channel_id, channel_kind, status, message, detail
            FROM alert_history WHERE tenant = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3;
            """,
            r => new AlertHistoryRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), Instant(r.GetInt64(6)),
                r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), r.GetString(9), r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)),
            tenant, beforeId, limit);

    public void Append(string tenant, IReadOnlyList<LedgerEntry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }
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
        using (var copy = connection.BeginBinaryImport(
            "COPY events (seq, tenant, event_id, time_ticks, client_time, user_name, device, app, action) FROM STDIN (FORMAT BINARY)"))
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
            }
            copy.Complete();
        }
        using (var copy = connection.BeginBinaryImport(
            "COPY decisions (event_seq, idx, tenant, kind, reason, user_name, app, period, unit_start_ticks, unit_end_ticks, retry_after_ticks, minutes) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < entries.Count; i++)
            {
                var decisions = entries[i].Decisions;
                for (var j = 0; j < decisions.Count; j++)
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
        if (entries.Any(e => e.Units.Count > 0))
        {
            using var copy = connection.BeginBinaryImport(
                "COPY units (tenant, event_seq, user_name, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment) FROM STDIN (FORMAT BINARY)");
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
                }
            }
            copy.Complete();
        }
        var (userRollups, periodRollups, hourRollups) = LedgerRows.Json(LedgerRows.Rollup(entries));
        using (var batch = new NpgsqlBatch(connection, tx))
        {
            batch.BatchCommands.Add(Rollup("""
                INSERT INTO usage_users (tenant, period, user_name, units, minutes, denied)
                SELECT $1, r->>0, r->>1, (r->>2)::bigint, (r->>3)::bigint, (r->>4)::bigint FROM json_array_elements($2::json) AS r
                ON CONFLICT (tenant, period, user_name) DO UPDATE SET units = usage_users.units + excluded.units,
                    minutes = usage_users.minutes + excluded.minutes, denied = usage_users.denied + excluded.denied;
                """, tenant, userRollups));
            batch.BatchCommands.Add(Rollup("""
                INSERT INTO usage_periods (tenant, period, pool_units, pool_minutes, denied, events)
                SELECT $1, r->>0, (r->>1)::bigint, (r->>2)::bigint, (r->>3)::bigint, (r->>4)::bigint FROM json_array_elements($2::json) AS r
                ON CONFLICT (tenant, period) DO UPDATE SET pool_units = usage_periods.pool_units + excluded.pool_units,
                    pool_minutes = usage_periods.pool_minutes + excluded.pool_minutes, denied = usage_periods.denied + excluded.denied,
                    events = usage_periods.events + excluded.events;
                """, tenant, periodRollups));
            batch.BatchCommands.Add(Rollup("""
                INSERT INTO usage_hours (tenant, hour, pool_minutes)
                SELECT $1, (r->>0)::bigint, (r->>1)::bigint FROM json_array_elements($2::json) AS r
                ON CONFLICT (tenant, hour) DO UPDATE SET pool_minutes = usage_hours.pool_minutes + excluded.pool_minutes;
                """, tenant, hourRollups));
            batch.ExecuteNonQuery();
        }
        // synchronous_commit stays on (the server default): Commit returns once the WAL is flushed.
        tx.Commit();
    }

    private static NpgsqlBatchCommand Rollup(string sql, string tenant, string rows)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = tenant });
        command.Parameters.Add(new NpgsqlParameter { Value = rows });
        return command;
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

    public IEnumerable<StoredEvent> Events(string tenant)
    {
        using var connection = _source.OpenConnection();
        using var command = new NpgsqlCommand(
            "SELECT seq, event_id, time_ticks, client_time, user_name, device, app, action FROM events WHERE tenant = $1 ORDER BY seq;", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = tenant });
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new StoredEvent(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7));
        }
    }

    public long EventCount(string tenant) => Long("SELECT COUNT(*) FROM events WHERE tenant = $1;", tenant);

    public IReadOnlySet<string> KnownEventIds(string tenant, IReadOnlyCollection<string> eventIds) =>
        eventIds.Count == 0
            ? new HashSet<string>()
            : Query("SELECT event_id FROM events WHERE tenant = $1 AND event_id = ANY($2);", r => r.GetString(0), tenant, eventIds.ToArray())
                .ToHashSet(StringComparer.Ordinal);

    // Period and user totals come from the v4 rollups, which Append keeps in step with the rows.
    public PeriodUsage PeriodUsage(string tenant, string period) =>
        Query("SELECT pool_units, pool_minutes, denied, events FROM usage_periods WHERE tenant = $1 AND period = $2;",
            r => new PeriodUsage(period, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)), tenant, period)
            .FirstOrDefault() ?? new PeriodUsage(period, 0, 0, 0, 0);

    public IReadOnlyList<UserUsage> UserUsage(string tenant, string period) =>
        Query("SELECT user_name, units, minutes, denied FROM usage_users WHERE tenant = $1 AND period = $2 ORDER BY minutes DESC, units DESC, user_name COLLATE \"C\";",
            r => new UserUsage(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)), tenant, period);

    public IReadOnlyList<AppUsage> AppUsage(string tenant, string period) =>
        Query("SELECT app, COUNT(*), SUM(minutes)::bigint FROM units WHERE tenant = $1 AND period = $2 GROUP BY app ORDER BY COUNT(*) DESC, app COLLATE \"C\";",
            r => new AppUsage(r.GetString(0), r.GetInt64(1), r.GetInt64(2)), tenant, period);

    public UnitPage Units(string tenant, UnitQuery query)
    {
        var (after, order) = UnitOrder.Sql(query);
        // Unused parameters are still referenced (IS NOT NULL), so every statement has the same six parameters.
        var sql = "SELECT id, user_name, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment FROM units WHERE tenant = $1"
            + (query.After is null ? " AND $2::bigint IS NOT NULL AND $3::bigint IS NOT NULL" : $" AND (end_ticks, id) {after} ($2, $3)")
            + (query.EndFromTicks is null ? " AND $4::bigint IS NOT NULL" : query.EndFromInclusive ? " AND end_ticks >= $4" : " AND end_ticks > $4")
            + (query.EndToTicks is null ? " AND $5::bigint IS NOT NULL" : query.EndToInclusive ? " AND end_ticks <= $5" : " AND end_ticks < $5")
            + $" ORDER BY {order} LIMIT $6;";
        var rows = Query(sql,
            r => new StoredUnit(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt64(5), r.GetInt64(6), r.GetInt32(7), r.GetString(8), r.GetString(9)),
            tenant, query.After?.EndTicks ?? 0L, query.After?.Id ?? 0L, query.EndFromTicks ?? 0L, query.EndToTicks ?? 0L, (long)query.Limit + 1);
        return UnitOrder.Page(rows, query.Limit);
    }

    public long DistinctUsers(string tenant, string period, string licenseUsage) =>
        Long("SELECT COUNT(DISTINCT user_name) FROM units WHERE tenant = $1 AND period = $2 AND license_usage = $3;", tenant, period, licenseUsage);

    public string? CheckWritable()
    {
        try
        {
            using var connection = _source.OpenConnection();
            using var tx = connection.BeginTransaction();
            var version = Convert.ToInt32(Scalar(connection, tx, "SELECT COALESCE(MAX(version), 0) FROM schema_version;"), CultureInfo.InvariantCulture);
            if (version != CurrentSchemaVersion)
            {
                return $"{Description} has schema version {version}; this Tally uses {CurrentSchemaVersion}";
            }
            // A real row version through the server's WAL: a standby, a read-only default transaction, a revoked grant or
            // a full disk fails here as it would fail the next group commit.
            Execute(connection, tx, WriteCheck.Sql);
            tx.Commit();
            return null;
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return $"{Description}: {e.Message}";
        }
    }

    public void Dispose() => _source.Dispose();

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, object?[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        }
        return command;
    }

    private int NonQuery(string sql, params object?[] parameters)
    {
        using var connection = _source.OpenConnection();
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private long Long(string sql, params object?[] parameters)
    {
        using var connection = _source.OpenConnection();
        using var command = Command(connection, sql, parameters);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private List<T> Query<T>(string sql, Func<NpgsqlDataReader, T> read, params object?[] parameters)
    {
        using var connection = _source.OpenConnection();
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction tx, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, tx);
        command.ExecuteNonQuery();
    }

    private static object? Scalar(NpgsqlConnection connection, NpgsqlTransaction tx, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, tx);
        return command.ExecuteScalar();
    }

    private static DateTimeOffset Instant(long ticks) => new(ticks, TimeSpan.Zero);
}
