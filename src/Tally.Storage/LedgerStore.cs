using System.Data.Common;
using System.Globalization;
using System.Text.Json;

namespace Tally.Storage;

/// <summary>
/// What the two stores share: one schema (the migration scripts per dialect), one migration runner and every statement
/// both databases understand alike, over plain ADO.NET. A store adds how it opens connections, how it serializes writes
/// and how it appends a batch; what differs in the SQL itself is in <see cref="SqlDialect"/>.
/// </summary>
public abstract class LedgerStore : ILedgerStore
{
    /// <summary>The newest migration script, the same version on both stores.</summary>
    public const int CurrentSchemaVersion = 16;

    private protected const long TicksPerHour = LedgerRows.TicksPerHour;

    private readonly MigrationRunner _migrations;

    private protected LedgerStore(SqlDialect dialect)
    {
        Dialect = dialect;
        _migrations = new MigrationRunner(dialect);
    }

    private protected SqlDialect Dialect { get; }

    /// <summary>Where the ledger is, without credentials: for the operator's log and every message about it.</summary>
    public abstract string Description { get; }

    /// <summary>A connection for reading; it sees the last committed state.</summary>
    private protected abstract DbConnection OpenRead();

    /// <summary>
    /// Runs <paramref name="work"/> on a reading connection for a caller on the request path. By default on a thread-pool
    /// thread: Microsoft.Data.Sqlite has no asynchronous I/O (its *Async methods run synchronously on the caller's
    /// thread), so this keeps the request's thread free as far as SQLite allows. PostgreSQL overrides it with Npgsql's
    /// real asynchronous I/O.
    /// </summary>
    private protected virtual Task<T> ReadAsync<T>(Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken cancellation) =>
        Task.Run(async () =>
        {
            await using var connection = OpenRead();
            return await work(connection, cancellation);
        }, cancellation);

    /// <summary>Runs <paramref name="work"/> on a connection that may write, under the store's write discipline.</summary>
    private protected abstract T Write<T>(Func<DbConnection, T> work);

    /// <summary>Whether <paramref name="e"/> is the database failing (unreachable, refused, read-only), not a bug.</summary>
    private protected virtual bool IsDatabaseFailure(Exception e) => e is DbException or TimeoutException;

    /// <summary>Connection settings a migration needs before its first transaction (SQLite's WAL mode).</summary>
    private protected virtual void BeforeMigrations(DbConnection connection)
    {
    }

    public void Append(string tenant, IReadOnlyList<LedgerEntry> entries) => Append(tenant, entries, ActivityMarks.Of(entries));

    public void Append(string tenant, IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity) => Append(tenant, entries, activity, null);

    public abstract void Append(string tenant, IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity, TenantClaim? claim);

    public abstract void Dispose();

    // ---- Lifecycle ----

    public void Initialize()
    {
        try
        {
            Write(connection =>
            {
                BeforeMigrations(connection);
                _migrations.Run(connection, Description);
                return 0;
            });
        }
        catch (Exception e) when (IsDatabaseFailure(e))
        {
            throw new LedgerOpenException($"Could not open the ledger {Description}: {e.Message}", e);
        }
    }

    public int SchemaVersion()
    {
        using var connection = OpenRead();
        return MigrationRunner.Version(connection);
    }

    /// <summary>
    /// The write must change bytes: SQLite skips a page whose new content equals the old, so an update to the same value
    /// commits without writing anything and proves nothing. One row whose counter each check increments does change
    /// them, and the upsert keeps a deleted row from turning the check into a write of nothing.
    /// </summary>
    public string? CheckWritable()
    {
        try
        {
            return Write(connection =>
            {
                using var tx = connection.BeginTransaction();
                var version = MigrationRunner.Version(connection, tx);
                if (version != CurrentSchemaVersion)
                {
                    return $"{Description} has schema version {version}; this Tally uses {CurrentSchemaVersion}";
                }
                // A read-only file, folder or mount, a full disk, a standby or a revoked grant fails here as it would
                // fail the next group commit.
                Execute(connection, tx, "INSERT INTO write_checks (id, checks) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET checks = write_checks.checks + 1;");
                tx.Commit();
                return null;
            });
        }
        catch (Exception e) when (IsDatabaseFailure(e) || e is InvalidOperationException)
        {
            return $"{Description}: {e.Message}";
        }
    }

    // ---- The ledger (Append is the store's own) ----

    public IEnumerable<StoredEvent> Events(string tenant)
    {
        using var connection = OpenRead();
        using var command = Command(connection, null,
            "SELECT seq, event_id, time_ticks, client_time, user_name, device, app, action FROM events WHERE tenant = @tenant ORDER BY seq;", ("@tenant", tenant));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new StoredEvent(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7));
        }
    }

    public long ActivityRecordedThrough(string tenant) =>
        Query("SELECT through_seq FROM activity_recorded WHERE tenant = @tenant;", r => r.GetInt64(0), ("@tenant", tenant)) is [var seq] ? seq : 0;

    public long EventCount(string tenant) => Query("SELECT COUNT(*) FROM events WHERE tenant = @tenant;", r => r.GetInt64(0), ("@tenant", tenant))[0];

    // One parameter, a JSON array, however many ids: each is one probe of the (tenant, event_id) unique index.
    public IReadOnlySet<string> KnownEventIds(string tenant, IReadOnlyCollection<string> eventIds) =>
        eventIds.Count == 0
            ? new HashSet<string>()
            : Query($"SELECT event_id FROM events WHERE tenant = @tenant AND event_id IN (SELECT value->>0 FROM {Dialect.JsonRows("@ids")});",
                    r => r.GetString(0), ("@tenant", tenant), ("@ids", JsonSerializer.Serialize(eventIds.Select(id => new[] { id }))))
                .ToHashSet(StringComparer.Ordinal);

    // One parameter, a JSON array of ids, as KnownEventIds: each a probe of the primary key.
    public IReadOnlyDictionary<string, ObservedRecordRow> ObservedRecords(string tenant, string source, IReadOnlyCollection<string> recordIds) =>
        recordIds.Count == 0
            ? new Dictionary<string, ObservedRecordRow>()
            : Query($"""
                SELECT record_id, user_name, app, session, end_ticks, duration_ticks, minutes, units, license_usage, allotment FROM observed_records
                WHERE tenant = @tenant AND source = @source AND record_id IN (SELECT value->>0 FROM {Dialect.JsonRows("@ids")});
                """,
                r => new ObservedRecordRow(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6),
                    r.GetInt64(7), r.GetString(8), NullableText(r, 9)),
                ("@tenant", tenant), ("@source", source), ("@ids", JsonSerializer.Serialize(recordIds.Select(id => new[] { id }))))
                .ToDictionary(r => r.RecordId, StringComparer.Ordinal);

    public void RecordTermsChange(string tenant, TermsChange change) => RecordTermsChange(tenant, change, null);

    public void RecordTermsChange(string tenant, TermsChange change, TenantClaim? claim)
    {
        CheckClaim(tenant, claim);
        var committed = Write(connection =>
        {
            using var tx = connection.BeginTransaction();
            Execute(connection, tx, "INSERT INTO terms_changes (tenant, after_events, license_key, plan, at_ticks) VALUES (@tenant, @after, @key, @plan, @at);",
                ("@tenant", tenant), ("@after", change.AfterEvents), ("@key", change.LicenseKey), ("@plan", change.PlanJson), ("@at", change.At.UtcTicks));
            // Last before the commit, as in an append: the claim's row is locked for the commit alone.
            if (claim is not null && Execute(connection, tx, FenceStatement, ("@tenant", claim.Tenant), ("@epoch", claim.Epoch)) == 0)
            {
                tx.Rollback();
                return false;
            }
            tx.Commit();
            return true;
        });
        if (!committed)
        {
            throw Fenced(claim!);
        }
    }

    // ---- The fence (v15) ----

    /// <summary>
    /// One statement, so two claims at once each get their own epoch (the second waits on the first's row). Its own
    /// transaction, committed before it returns: the claim is durable before the claimant replays the ledger.
    /// </summary>
    public TenantClaim ClaimTenant(string tenant, string owner, DateTimeOffset at) =>
        new(tenant, owner, Write(connection =>
        {
            using var tx = connection.BeginTransaction();
            var epoch = Convert.ToInt64(Scalar(connection, tx, """
                INSERT INTO tenant_owners (tenant, epoch, owner, claimed_ticks) VALUES (@tenant, 1, @owner, @at)
                ON CONFLICT (tenant) DO UPDATE SET epoch = tenant_owners.epoch + 1, owner = excluded.owner, claimed_ticks = excluded.claimed_ticks
                RETURNING epoch;
                """, ("@tenant", tenant), ("@owner", owner), ("@at", at.UtcTicks)), CultureInfo.InvariantCulture);
            tx.Commit();
            return epoch;
        }));

    /// <summary>
    /// Counts a commit on the claim, in the commit's transaction: no row changes when another writer has claimed the
    /// tenant since, and the commit is then rolled back. The row lock it takes is what orders a commit and a claim.
    /// </summary>
    private protected const string FenceStatement = "UPDATE tenant_owners SET commits = commits + 1 WHERE tenant = @tenant AND epoch = @epoch;";

    /// <summary>A claim must be the tenant's own: a writer handing another tenant's claim is a bug, not a fence.</summary>
    private protected static void CheckClaim(string tenant, TenantClaim? claim)
    {
        if (claim is not null && !string.Equals(claim.Tenant, tenant, StringComparison.Ordinal))
        {
            throw new ArgumentException($"A claim on tenant {claim.Tenant} cannot commit tenant {tenant}'s ledger.", nameof(claim));
        }
    }

    /// <summary>The refusal of a commit under a stale claim, naming the claim that holds the tenant now (read after the rollback).</summary>
    private protected LedgerFencedException Fenced(TenantClaim claim, Exception? inner = null)
    {
        var (epoch, owner) = CurrentClaim(claim.Tenant);
        return new LedgerFencedException(claim.Tenant, claim.Epoch, epoch, owner, inner);
    }

    /// <summary>
    /// Whether <paramref name="claim"/> is no longer the tenant's newest, for a fenced commit that failed before its fence
    /// ran (a unique violation: the new owner committed an id the stale group repeats). Then the writer must hear that it
    /// was fenced, not retry its requests one by one. False when that cannot be read: the commit's own failure stands.
    /// </summary>
    private protected bool ClaimIsStale(TenantClaim claim)
    {
        try
        {
            return CurrentClaim(claim.Tenant).Epoch != claim.Epoch;
        }
        catch (Exception e) when (IsDatabaseFailure(e))
        {
            return false;
        }
    }

    private (long Epoch, string? Owner) CurrentClaim(string tenant) =>
        Query("SELECT epoch, owner FROM tenant_owners WHERE tenant = @tenant;", r => (r.GetInt64(0), (string?)r.GetString(1)), ("@tenant", tenant)) is [var current]
            ? current : (0, null);

    public IReadOnlyList<TermsChange> TermsChanges(string tenant) =>
        Query("SELECT after_events, license_key, plan, at_ticks FROM terms_changes WHERE tenant = @tenant ORDER BY id;",
            r => new TermsChange(r.GetInt64(0), NullableText(r, 1), NullableText(r, 2), Instant(r.GetInt64(3))), ("@tenant", tenant));

    /// <summary>
    /// The report rollups a batch adds to (schema v4, v9), upserted in the batch's transaction, in the order of
    /// <see cref="LedgerRows.Json(Rollups)"/>: per (period, user), per period, per UTC hour, per (period, app), and last
    /// the (period, user, app) pairs, written only when new: schema v9's trigger then counts each new pair into the
    /// user's and the app's row, which must already be there. <paramref name="positional"/>: one row per run, bound
    /// by position (?1 the tenant, then the row's values in the JSON row's order), as SQLite's append binds them;
    /// otherwise all of a batch's rows at once from a JSON array (@tenant, @rows). A user or app row whose values the
    /// batch leaves as they are (no units or denials, no newer event; the allotment comes with a unit) is not rewritten. "WHERE
    /// true": SQLite's parser needs it before ON CONFLICT after INSERT … SELECT.
    /// </summary>
    private protected IReadOnlyList<string> RollupStatements(bool positional) =>
    [
        Upsert(positional, "usage_users (tenant, period, user_name, units, minutes, denied, allotment, last_ticks)",
            "value->>0, value->>1, CAST(value->>2 AS BIGINT), CAST(value->>3 AS BIGINT), CAST(value->>4 AS BIGINT), value->>5, CAST(value->>6 AS BIGINT)",
            $"""
            ON CONFLICT (tenant, period, user_name) DO UPDATE SET allotment = COALESCE(excluded.allotment, usage_users.allotment), units = usage_users.units + excluded.units,
                minutes = usage_users.minutes + excluded.minutes, denied = usage_users.denied + excluded.denied, last_ticks = {Newest("usage_users")}
            WHERE excluded.units <> 0 OR excluded.denied <> 0 OR {Newer("usage_users")}
            """),
        Upsert(positional, "usage_periods (tenant, period, pool_units, pool_minutes, denied, events)",
            "value->>0, CAST(value->>1 AS BIGINT), CAST(value->>2 AS BIGINT), CAST(value->>3 AS BIGINT), CAST(value->>4 AS BIGINT)",
            """
            ON CONFLICT (tenant, period) DO UPDATE SET pool_units = usage_periods.pool_units + excluded.pool_units,
                pool_minutes = usage_periods.pool_minutes + excluded.pool_minutes, denied = usage_periods.denied + excluded.denied,
                events = usage_periods.events + excluded.events
            """),
        Upsert(positional, "usage_hours (tenant, hour, pool_minutes)",
            "CAST(value->>0 AS BIGINT), CAST(value->>1 AS BIGINT)",
            "ON CONFLICT (tenant, hour) DO UPDATE SET pool_minutes = usage_hours.pool_minutes + excluded.pool_minutes"),
        Upsert(positional, "usage_apps (tenant, period, app, units, minutes, last_ticks)",
            "value->>0, value->>1, CAST(value->>2 AS BIGINT), CAST(value->>3 AS BIGINT), CAST(value->>4 AS BIGINT)",
            $"""
            ON CONFLICT (tenant, period, app) DO UPDATE SET units = usage_apps.units + excluded.units, minutes = usage_apps.minutes + excluded.minutes,
                last_ticks = {Newest("usage_apps")}
            WHERE excluded.units <> 0 OR {Newer("usage_apps")}
            """),
        Upsert(positional, "usage_user_apps (tenant, period, user_name, app)",
            "value->>0, value->>1, value->>2",
            "ON CONFLICT (tenant, period, user_name, app) DO NOTHING"),
    ];

    /// <summary>
    /// Records that the tenant's last activity is written through its newest event, in the transaction that wrote the
    /// marks (the tenant is ?1 or @tenant). Its events are found through the (tenant, seq) index.
    /// </summary>
    private protected static string ActivityRecordedStatement(bool positional)
    {
        var tenant = positional ? "?1" : "@tenant";
        return $"""
            INSERT INTO activity_recorded (tenant, through_seq) SELECT {tenant}, COALESCE(MAX(seq), 0) FROM events WHERE tenant = {tenant}
            ON CONFLICT (tenant) DO UPDATE SET through_seq = excluded.through_seq;
            """;
    }

    /// <summary>One rollup upsert: into <paramref name="into"/> (the tenant first) from one positional row or from JSON rows.</summary>
    private string Upsert(bool positional, string into, string jsonValues, string conflict)
    {
        var columns = into.Count(c => c == ',') + 1;
        var source = positional
            ? $"VALUES ({string.Join(", ", Enumerable.Range(1, columns).Select(i => $"?{i}"))})"
            : $"SELECT @tenant, {jsonValues} FROM {Dialect.JsonRows("@rows")} WHERE true";
        return $"INSERT INTO {into}\n{source}\n{conflict};";
    }

    /// <summary>Whether the incoming <c>last_ticks</c> is later than the stored one (or the first): NULL, so false, when the batch has none.</summary>
    private static string Newer(string table) => $"excluded.last_ticks > COALESCE({table}.last_ticks, 0)";

    /// <summary>
    /// The later of the stored and the incoming <c>last_ticks</c>, either of which may be NULL (no event yet, or none
    /// in this batch). Spelled out because SQLite's MAX(a, b) is NULL if either is and PostgreSQL's GREATEST skips NULLs.
    /// </summary>
    private static string Newest(string table) =>
        $"CASE WHEN {table}.last_ticks >= excluded.last_ticks THEN {table}.last_ticks ELSE COALESCE(excluded.last_ticks, {table}.last_ticks) END";

    // ---- Tenants, keys and terms ----

    public bool CreateTenant(TenantRecord tenant) =>
        Execute("INSERT INTO tenants (id, name, created_ticks) VALUES (@id, @name, @created) ON CONFLICT (id) DO NOTHING;",
            ("@id", tenant.Id), ("@name", tenant.Name), ("@created", tenant.Created.UtcTicks)) == 1;

    public TenantRecord? GetTenant(string id) =>
        Query("SELECT id, name, created_ticks FROM tenants WHERE id = @id;", ReadTenant, ("@id", id)).FirstOrDefault();

    public IReadOnlyList<TenantRecord> Tenants() =>
        Query($"SELECT id, name, created_ticks FROM tenants ORDER BY id{Dialect.Ordinal};", ReadTenant);

    private static TenantRecord ReadTenant(DbDataReader r) => new(r.GetString(0), r.GetString(1), Instant(r.GetInt64(2)));

    public void AddApiKey(ApiKeyRecord key) =>
        Execute("INSERT INTO api_keys (id, hash, tenant, role, created_ticks, revoked_ticks) VALUES (@id, @hash, @tenant, @role, @created, @revoked);",
            ("@id", key.Id), ("@hash", key.Hash), ("@tenant", key.Tenant), ("@role", key.Role.ToWire()), ("@created", key.Created.UtcTicks), ("@revoked", key.Revoked?.UtcTicks));

    private const string KeyColumns = "SELECT id, hash, tenant, role, created_ticks, revoked_ticks FROM api_keys";

    public ApiKeyRecord? FindApiKey(byte[] hash) => Query(KeyColumns + " WHERE hash = @hash;", ReadKey, ("@hash", hash)).FirstOrDefault();

    public ApiKeyRecord? GetApiKey(string id) => Query(KeyColumns + " WHERE id = @id;", ReadKey, ("@id", id)).FirstOrDefault();

    public IReadOnlyList<ApiKeyRecord> ApiKeys(string? tenant) => tenant is null
        ? Query($"{KeyColumns} WHERE tenant IS NULL ORDER BY created_ticks, id{Dialect.Ordinal};", ReadKey)
        : Query($"{KeyColumns} WHERE tenant = @tenant ORDER BY created_ticks, id{Dialect.Ordinal};", ReadKey, ("@tenant", tenant));

    public bool HasActiveKey(ApiRole role) =>
        Query("SELECT 1 FROM api_keys WHERE role = @role AND revoked_ticks IS NULL LIMIT 1;", _ => true, ("@role", role.ToWire())).Count > 0;

    private static ApiKeyRecord ReadKey(DbDataReader r)
    {
        ApiRoles.TryParse(r.GetString(3), out var role);
        return new ApiKeyRecord(r.GetString(0), (byte[])r[1], NullableText(r, 2), role, Instant(r.GetInt64(4)), r.IsDBNull(5) ? null : Instant(r.GetInt64(5)));
    }

    public bool RevokeApiKey(string id, DateTimeOffset when) =>
        Execute("UPDATE api_keys SET revoked_ticks = @when WHERE id = @id AND revoked_ticks IS NULL;", ("@id", id), ("@when", when.UtcTicks)) == 1;

    public T Exclusively<T>(string purpose, Func<T> work)
    {
        if (Dialect.Lock("@purpose") is not { } take)
        {
            // SQLite: one process per database file (the data folder lock), whose callers serialize themselves.
            return work();
        }
        // Held by an open transaction on a connection of its own, so the work's reads and writes (on other
        // connections, committed as they go) are what the next holder reads; ended by commit, or by the server when
        // this process dies.
        return Write(connection =>
        {
            using var tx = connection.BeginTransaction();
            Execute(connection, tx, take, ("@purpose", "tally." + purpose));
            var result = work();
            tx.Commit();
            return result;
        });
    }

    public bool AddSession(SessionRecord session, int cap, DateTimeOffset idleBefore, DateTimeOffset createdBefore) =>
        Exclusively("dashboard-sessions", () =>
        {
            Execute("DELETE FROM dashboard_sessions WHERE last_seen_ticks < @idle OR created_ticks < @created;",
                ("@idle", idleBefore.UtcTicks), ("@created", createdBefore.UtcTicks));
            if (SessionCount() >= cap)
            {
                return false;
            }
            Execute("INSERT INTO dashboard_sessions (id, key_id, created_ticks, last_seen_ticks) VALUES (@id, @key, @created, @seen);",
                ("@id", session.Id), ("@key", session.KeyId), ("@created", session.Created.UtcTicks), ("@seen", session.LastSeen.UtcTicks));
            return true;
        });

    public SessionRecord? GetSession(string id) =>
        Query("SELECT id, key_id, created_ticks, last_seen_ticks FROM dashboard_sessions WHERE id = @id;",
            r => new SessionRecord(r.GetString(0), r.GetString(1), Instant(r.GetInt64(2)), Instant(r.GetInt64(3))), ("@id", id)).FirstOrDefault();

    public void TouchSession(string id, DateTimeOffset lastSeen) =>
        Execute("UPDATE dashboard_sessions SET last_seen_ticks = @seen WHERE id = @id AND last_seen_ticks < @seen;", ("@id", id), ("@seen", lastSeen.UtcTicks));

    public bool EndSession(string id) => Execute("DELETE FROM dashboard_sessions WHERE id = @id;", ("@id", id)) == 1;

    public int SessionCount() => Query("SELECT count(*) FROM dashboard_sessions;", r => (int)r.GetInt64(0)).Single();

    public void SetLicense(LicenseRecord license) =>
        Execute("""
            INSERT INTO licenses (tenant, key, installed_ticks) VALUES (@tenant, @key, @installed)
            ON CONFLICT (tenant) DO UPDATE SET key = excluded.key, installed_ticks = excluded.installed_ticks;
            """, ("@tenant", license.Tenant), ("@key", license.Key), ("@installed", license.Installed.UtcTicks));

    public LicenseRecord? GetLicense(string tenant) =>
        Query("SELECT tenant, key, installed_ticks FROM licenses WHERE tenant = @tenant;",
            r => new LicenseRecord(r.GetString(0), r.GetString(1), Instant(r.GetInt64(2))), ("@tenant", tenant)).FirstOrDefault();

    public void SetPlan(string tenant, string planJson, DateTimeOffset when) =>
        Execute("""
            INSERT INTO allocation_plans (tenant, plan, updated_ticks) VALUES (@tenant, @plan, @when)
            ON CONFLICT (tenant) DO UPDATE SET plan = excluded.plan, updated_ticks = excluded.updated_ticks;
            """, ("@tenant", tenant), ("@plan", planJson), ("@when", when.UtcTicks));

    public string? GetPlan(string tenant) =>
        Query("SELECT plan FROM allocation_plans WHERE tenant = @tenant;", r => r.GetString(0), ("@tenant", tenant)).FirstOrDefault();

    // Closure days as ISO dates joined by commas: read and replaced whole with the setting, never queried by day.
    public void SetWorkCalendar(string tenant, WorkCalendarSetting setting, DateTimeOffset when) =>
        Execute("""
            INSERT INTO work_calendars (tenant, holidays, closed_days, updated_ticks) VALUES (@tenant, @holidays, @days, @when)
            ON CONFLICT (tenant) DO UPDATE SET holidays = excluded.holidays, closed_days = excluded.closed_days, updated_ticks = excluded.updated_ticks;
            """, ("@tenant", tenant), ("@holidays", setting.Holidays),
            ("@days", string.Join(',', setting.ClosedDays.Select(d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)))), ("@when", when.UtcTicks));

    public WorkCalendarSetting? GetWorkCalendar(string tenant) =>
        Query("SELECT holidays, closed_days FROM work_calendars WHERE tenant = @tenant;",
            r => new WorkCalendarSetting(r.GetString(0), [.. r.GetString(1).Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Select(d => DateOnly.ParseExact(d, "yyyy-MM-dd", CultureInfo.InvariantCulture))]),
            ("@tenant", tenant)).FirstOrDefault();

    // ---- Reports ----

    // Period and user totals come from the v4 rollups, which Append keeps in step with the rows.
    public PeriodUsage PeriodUsage(string tenant, string period) =>
        Query("SELECT pool_units, pool_minutes, denied, events FROM usage_periods WHERE tenant = @tenant AND period = @period;",
            r => new PeriodUsage(period, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)), ("@tenant", tenant), ("@period", period))
            .FirstOrDefault() ?? new PeriodUsage(period, 0, 0, 0, 0);

    public IReadOnlyList<UserUsage> UserUsage(string tenant, string period) =>
        Query($"SELECT user_name, units, minutes, denied FROM usage_users WHERE tenant = @tenant AND period = @period AND (units > 0 OR denied > 0) ORDER BY minutes DESC, units DESC, user_name{Dialect.Ordinal};",
            r => new UserUsage(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)), ("@tenant", tenant), ("@period", period));

    /// <summary>
    /// Keyset paging in the unit records' one order, (end instant, id): a page that starts after a position never
    /// repeats or skips a record, and the (tenant, end_ticks, id) index (v5) serves it without sorting. One row more
    /// than the limit is read: it only says whether more follow.
    /// </summary>
    public UnitPage Units(string tenant, UnitQuery query)
    {
        var (after, order) = query.Descending ? ("<", "end_ticks DESC, id DESC") : (">", "end_ticks, id");
        var parameters = new List<(string, object?)> { ("@tenant", tenant), ("@limit", (long)query.Limit + 1) };
        var sql = "SELECT id, user_name, device, app, period, start_ticks, end_ticks, minutes, license_usage, allotment, session, engaged_ticks FROM units WHERE tenant = @tenant";
        if (query.After is { } position)
        {
            sql += $" AND (end_ticks, id) {after} (@afterEnd, @afterId)";
            parameters.AddRange([("@afterEnd", position.EndTicks), ("@afterId", position.Id)]);
        }
        if (query.EndFromTicks is { } from)
        {
            sql += query.EndFromInclusive ? " AND end_ticks >= @from" : " AND end_ticks > @from";
            parameters.Add(("@from", from));
        }
        if (query.EndToTicks is { } to)
        {
            sql += query.EndToInclusive ? " AND end_ticks <= @to" : " AND end_ticks < @to";
            parameters.Add(("@to", to));
        }
        var rows = Query($"{sql} ORDER BY {order} LIMIT @limit;",
            r => new StoredUnit(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt64(5), r.GetInt64(6), r.GetInt32(7), r.GetString(8), r.GetString(9),
                NullableText(r, 10), r.IsDBNull(11) ? null : r.GetInt64(11)),
            [.. parameters]);
        return rows.Count > query.Limit ? new UnitPage([.. rows.Take(query.Limit)], true) : new UnitPage(rows, false);
    }

    public long? FirstEventTicks(string tenant) =>
        Query("SELECT MIN(time_ticks) FROM events WHERE tenant = @tenant;", r => r.IsDBNull(0) ? (long?)null : r.GetInt64(0), ("@tenant", tenant))[0];

    // Whole hours inside [from, to) come from the hourly rollup; the partial hours at either edge from the units.
    public IReadOnlyList<HourlyMinutes> HourlyPoolMinutes(string tenant, long fromTicks, long toTicks) =>
        LedgerRows.HourlyFromRollup(fromTicks, toTicks,
            (from, to) => Query($"""
                SELECT start_ticks / {TicksPerHour} * {TicksPerHour} AS hour, CAST(SUM(minutes) AS BIGINT) FROM units
                WHERE tenant = @tenant AND license_usage = 'time' AND start_ticks >= @from AND start_ticks < @to
                GROUP BY hour ORDER BY hour;
                """, ReadHourly, ("@tenant", tenant), ("@from", from), ("@to", to)),
            (from, to) => Query("SELECT hour, pool_minutes FROM usage_hours WHERE tenant = @tenant AND hour >= @from AND hour < @to ORDER BY hour;",
                ReadHourly, ("@tenant", tenant), ("@from", from), ("@to", to)));

    private static HourlyMinutes ReadHourly(DbDataReader r) => new(r.GetInt64(0), r.GetInt64(1));

    public async Task<IReadOnlyList<UserHourUsage>> UserHoursAsync(string tenant, long fromTicks, long toTicks, CancellationToken cancellation) =>
        await QueryAsync($"""
            SELECT hour, user_name, CAST(SUM(units) AS BIGINT), CAST(SUM(minutes) AS BIGINT), CAST(SUM(denied) AS BIGINT) FROM (
                SELECT start_ticks / {TicksPerHour} * {TicksPerHour} AS hour, user_name, 1 AS units, minutes, 0 AS denied
                FROM units WHERE tenant = @tenant AND start_ticks >= @from AND start_ticks < @to
                UNION ALL
                SELECT e.time_ticks / {TicksPerHour} * {TicksPerHour}, d.user_name, 0, 0, 1
                FROM decisions d JOIN events e ON e.seq = d.event_seq
                WHERE d.tenant = @tenant AND d.kind = 'denied' AND e.time_ticks >= @from AND e.time_ticks < @to) x
            GROUP BY hour, user_name ORDER BY hour, user_name{Dialect.Ordinal};
            """,
            r => new UserHourUsage(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)), cancellation,
            ("@tenant", tenant), ("@from", fromTicks), ("@to", toTicks));

    // One grouped pass per table, joined by user (or app): a correlated subquery per row would scan the period's
    // events once per user, which takes minutes at a million units.
    public IReadOnlyList<UserActivity> UserActivity(string tenant, string period, long fromTicks, long toTicks) =>
        Query("""
            WITH t AS (
                SELECT user_name, CAST(SUM(units) AS BIGINT) AS units, CAST(SUM(minutes) AS BIGINT) AS minutes, CAST(SUM(denied) AS BIGINT) AS denied,
                    COUNT(DISTINCT app) AS apps FROM (
                    SELECT user_name, 1 AS units, minutes, 0 AS denied, app FROM units WHERE tenant = @tenant AND period = @period
                    UNION ALL
                    SELECT user_name, 0, 0, 1, NULL FROM decisions WHERE tenant = @tenant AND period = @period AND kind = 'denied') x
                GROUP BY user_name),
            last AS (
                SELECT user_name, MAX(time_ticks) AS last_ticks FROM events
                WHERE tenant = @tenant AND time_ticks >= @from AND time_ticks < @to GROUP BY user_name),
            latest AS (
                SELECT user_name, MAX(id) AS id FROM units WHERE tenant = @tenant AND period = @period GROUP BY user_name)
            SELECT t.user_name, t.units, t.minutes, t.denied, t.apps, last.last_ticks, u.allotment
            FROM t
            LEFT JOIN last ON last.user_name = t.user_name
            LEFT JOIN latest ON latest.user_name = t.user_name
            LEFT JOIN units u ON u.id = latest.id;
            """,
            r => new UserActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.IsDBNull(5) ? null : r.GetInt64(5), NullableText(r, 6)),
            ("@tenant", tenant), ("@period", period), ("@from", fromTicks), ("@to", toTicks));

    public IReadOnlyList<AppActivity> AppActivity(string tenant, string period, long fromTicks, long toTicks) =>
        Query("""
            WITH t AS (
                SELECT app, COUNT(*) AS units, CAST(SUM(minutes) AS BIGINT) AS minutes, COUNT(DISTINCT user_name) AS users
                FROM units WHERE tenant = @tenant AND period = @period GROUP BY app),
            last AS (
                SELECT app, MAX(time_ticks) AS last_ticks FROM events
                WHERE tenant = @tenant AND time_ticks >= @from AND time_ticks < @to GROUP BY app)
            SELECT t.app, t.units, t.minutes, t.users, last.last_ticks FROM t LEFT JOIN last ON last.app = t.app;
            """,
            r => new AppActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.IsDBNull(4) ? null : r.GetInt64(4)),
            ("@tenant", tenant), ("@period", period), ("@from", fromTicks), ("@to", toTicks));

    // ---- The users and apps pages (schema v9) ----

    /// <summary>
    /// From usage_users alone, one row per user of the period (a user with events but neither units nor denials has a
    /// row of zeros for its last activity, which is left out): every sort key is a column, so the database orders and
    /// cuts the page from the period's rows without reading anything else.
    /// </summary>
    public Task<ReportPage<UserActivity>> UsersPageAsync(string tenant, PageQuery<UserSort> query, CancellationToken cancellation)
    {
        var order = PageOrder(query.Sort switch
        {
            UserSort.Minutes => ["minutes", "units"],
            UserSort.Units => ["units"],
            UserSort.Apps => ["apps"],
            UserSort.LastActivity => ["last_ticks"],
            UserSort.Denied => ["denied"],
            _ => [],
        }, query.Descending, query.Sort == UserSort.LastActivity, "user_name");
        var filter = "tenant = @tenant AND period = @period AND (units > 0 OR denied > 0)" + Search(query, "user_name");
        return Page(query, $"SELECT COUNT(*) FROM usage_users WHERE {filter};", $"""
            SELECT user_name, units, minutes, denied, apps, last_ticks, allotment FROM usage_users
            WHERE {filter} ORDER BY {order} LIMIT @limit OFFSET @offset;
            """,
            r => new UserActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.IsDBNull(5) ? null : r.GetInt64(5), NullableText(r, 6)),
            tenant, cancellation);
    }

    /// <summary>From usage_apps alone, one row per app of the period (one with events but no units is left out), like the users page.</summary>
    public Task<ReportPage<AppActivity>> AppsPageAsync(string tenant, PageQuery<AppSort> query, CancellationToken cancellation)
    {
        var order = PageOrder(query.Sort switch
        {
            AppSort.Units => ["units"],
            AppSort.Minutes => ["minutes"],
            AppSort.Users => ["users"],
            AppSort.LastActivity => ["last_ticks"],
            _ => [],
        }, query.Descending, query.Sort == AppSort.LastActivity, "app");
        var filter = "tenant = @tenant AND period = @period AND units > 0" + Search(query, "app");
        return Page(query, $"SELECT COUNT(*) FROM usage_apps WHERE {filter};", $"""
            SELECT app, units, minutes, users, last_ticks FROM usage_apps
            WHERE {filter} ORDER BY {order} LIMIT @limit OFFSET @offset;
            """,
            r => new AppActivity(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.IsDBNull(4) ? null : r.GetInt64(4)),
            tenant, cancellation);
    }

    private string Search<TSort>(PageQuery<TSort> query, string column) where TSort : struct, Enum =>
        query.Search is null ? "" : " AND " + Dialect.Contains(column, "@search");

    /// <summary>
    /// ORDER BY the keys, each in the page's direction, then the name ascending in byte order: the server's comparer
    /// with its name tie-break. A missing last activity is the smallest value (as <c>Nullable.Compare</c> has it), which
    /// both databases need told: SQLite puts NULL first, PostgreSQL last. No keys: the name itself is the sort.
    /// </summary>
    private string PageOrder(string[] keys, bool descending, bool nullable, string name)
    {
        var direction = descending ? " DESC" : " ASC";
        var nulls = !nullable ? "" : descending ? " NULLS LAST" : " NULLS FIRST";
        return keys.Length == 0
            ? $"{name}{Dialect.Ordinal}{direction}"
            : string.Join(", ", keys.Select(k => k + direction + nulls)) + $", {name}{Dialect.Ordinal} ASC";
    }

    /// <summary>The match count, then the page unless the offset is past the end, on one connection.</summary>
    private Task<ReportPage<T>> Page<T, TSort>(PageQuery<TSort> query, string countSql, string pageSql, Func<DbDataReader, T> read, string tenant,
        CancellationToken cancellation)
        where TSort : struct, Enum
    {
        // Each statement gets only the parameters it names, as every statement in this class does.
        List<(string, object?)> filter = [("@tenant", tenant), ("@period", query.Period)];
        if (query.Search is not null)
        {
            filter.Add(("@search", SqlDialect.ContainsPattern(query.Search)));
        }
        (string, object?)[] pageParameters = [.. filter, ("@limit", (long)query.Limit), ("@offset", (long)query.Offset)];
        return ReadAsync(async (connection, ct) =>
        {
            await using var count = Command(connection, null, countSql, [.. filter]);
            var total = Convert.ToInt64(await count.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            return new ReportPage<T>(total, query.Offset < total ? await ReadAllAsync(connection, pageSql, read, ct, pageParameters) : []);
        }, cancellation);
    }

    public async Task<IReadOnlyList<UserDenials>> DenialsAsync(string tenant, string period, CancellationToken cancellation) =>
        await QueryAsync("""
            SELECT user_name, COALESCE(reason, ''), COUNT(*) FROM decisions
            WHERE tenant = @tenant AND period = @period AND kind = 'denied' GROUP BY user_name, reason;
            """,
            r => new UserDenials(r.GetString(0), r.GetString(1), r.GetInt64(2)), cancellation, ("@tenant", tenant), ("@period", period));

    // One read of the period's reload-started units (engaged_ticks IS NOT NULL is the partial index's condition),
    // grouped three ways. The idle test is IdleReload.IsIdle's: a unit with no engagement has 0, which is always old
    // enough. Totals are the hours' sum: every unit starts in exactly one hour.
    public async Task<StoredReloadWaste> ReloadWasteAsync(string tenant, string period, long quietTicks, CancellationToken cancellation)
    {
        const string Figures = "COUNT(*), CAST(SUM(minutes) AS BIGINT), CAST(SUM(idle) AS BIGINT), CAST(SUM(idle * minutes) AS BIGINT)";
        var rows = await QueryAsync($"""
            WITH r AS (
                SELECT user_name, app, start_ticks, minutes, CASE WHEN engaged_ticks <= start_ticks - @quiet THEN 1 ELSE 0 END AS idle
                FROM units WHERE tenant = @tenant AND period = @period AND engaged_ticks IS NOT NULL)
            SELECT 'user', user_name, 0, {Figures}, 0 FROM r GROUP BY user_name
            UNION ALL
            SELECT 'app', app, 0, {Figures}, COUNT(DISTINCT CASE WHEN idle = 1 THEN user_name END) FROM r GROUP BY app
            UNION ALL
            SELECT 'hour', '', start_ticks / {TicksPerHour} * {TicksPerHour}, {Figures}, 0 FROM r GROUP BY start_ticks / {TicksPerHour} * {TicksPerHour};
            """,
            r => (Kind: r.GetString(0), Name: r.GetString(1), Hour: r.GetInt64(2),
                Figures: new ReloadUnitFigures(r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6)), IdleUsers: r.GetInt64(7)),
            cancellation, ("@tenant", tenant), ("@period", period), ("@quiet", quietTicks));
        var hours = rows.Where(r => r.Kind == "hour").OrderBy(r => r.Hour).Select(r => new ReloadWasteHour(r.Hour, r.Figures)).ToList();
        return new StoredReloadWaste(hours.Aggregate(default(ReloadUnitFigures), (total, h) => total + h.Figures),
            [.. rows.Where(r => r.Kind == "user").OrderBy(r => r.Name, StringComparer.Ordinal).Select(r => new ReloadWasteUser(r.Name, r.Figures))],
            [.. rows.Where(r => r.Kind == "app").OrderBy(r => r.Name, StringComparer.Ordinal).Select(r => new ReloadWasteApp(r.Name, r.Figures, r.IdleUsers))],
            hours);
    }

    public async Task<long> IdleReloadMinutesAsync(string tenant, string period, long quietTicks, CancellationToken cancellation) =>
        (await QueryAsync("""
            SELECT CAST(COALESCE(SUM(minutes), 0) AS BIGINT) FROM units
            WHERE tenant = @tenant AND period = @period AND engaged_ticks IS NOT NULL AND engaged_ticks <= start_ticks - @quiet;
            """, r => r.GetInt64(0), cancellation, ("@tenant", tenant), ("@period", period), ("@quiet", quietTicks)))[0];

    // ---- Alerts ----

    public bool TryAddAlertChannel(AlertChannelRecord channel, int limit) =>
        InsertUnderLimit("alert_channels", channel.Tenant, limit, """
            INSERT INTO alert_channels (id, tenant, kind, name, target, secret, created_ticks)
            SELECT @id, @tenant, @kind, @name, @target, @secret, @created
            """,
            ("@id", channel.Id), ("@kind", channel.Kind), ("@name", channel.Name), ("@target", channel.Target),
            ("@secret", channel.Secret), ("@created", channel.Created.UtcTicks));

    public IReadOnlyList<AlertChannelRecord> AlertChannels(string tenant) =>
        Query($"SELECT id, tenant, kind, name, target, secret, created_ticks FROM alert_channels WHERE tenant = @tenant ORDER BY created_ticks, id{Dialect.Ordinal};",
            r => new AlertChannelRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), NullableText(r, 5), Instant(r.GetInt64(6))),
            ("@tenant", tenant));

    public bool DeleteAlertChannel(string tenant, string id) =>
        Execute("DELETE FROM alert_channels WHERE tenant = @tenant AND id = @id;", ("@tenant", tenant), ("@id", id)) == 1;

    public bool TryAddAlertRule(AlertRuleRecord rule, int limit) =>
        InsertUnderLimit("alert_rules", rule.Tenant, limit, """
            INSERT INTO alert_rules (id, tenant, name, kind, value, channel_ids, created_ticks, bound)
            SELECT @id, @tenant, @name, @kind, CAST(@value AS DOUBLE PRECISION), @channels, @created, CAST(@bound AS TEXT)
            """,
            ("@id", rule.Id), ("@name", rule.Name), ("@kind", rule.Kind), ("@value", rule.Value), ("@bound", rule.Bound),
            ("@channels", string.Join(',', rule.ChannelIds)), ("@created", rule.Created.UtcTicks));

    // CAST: in INSERT … SELECT, PostgreSQL types a null parameter as text, not as the column's type.
    /// <summary>
    /// Inserts only while the tenant has fewer than <paramref name="limit"/> rows in <paramref name="table"/>: the count
    /// is part of the INSERT. On SQLite the statement holds the database's write lock from before it reads; under
    /// PostgreSQL's READ COMMITTED two transactions could count the same rows, so the dialect's lock on (table, tenant)
    /// goes first and is released at commit, after which the next waiter's count sees the new row.
    /// </summary>
    private bool InsertUnderLimit(string table, string tenant, int limit, string insertSelect, params (string Name, object? Value)[] values) =>
        Write(connection =>
        {
            using var tx = connection.BeginTransaction();
            if (Dialect.Lock("@lock") is { } gate)
            {
                Execute(connection, tx, gate, ("@lock", $"tally:{table}:{tenant}"));
            }
            var inserted = Execute(connection, tx, $"{insertSelect} WHERE (SELECT COUNT(*) FROM {table} WHERE tenant = @tenant) < @limit;",
                [.. values, ("@tenant", tenant), ("@limit", limit)]);
            tx.Commit();
            return inserted == 1;
        });

    public IReadOnlyList<AlertRuleRecord> AlertRules(string tenant) =>
        Query($"SELECT id, tenant, name, kind, value, channel_ids, created_ticks, bound FROM alert_rules WHERE tenant = @tenant ORDER BY created_ticks, id{Dialect.Ordinal};",
            r => new AlertRuleRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetDouble(4),
                r.GetString(5).Split(',', StringSplitOptions.RemoveEmptyEntries), Instant(r.GetInt64(6)), NullableText(r, 7)),
            ("@tenant", tenant));

    public bool DeleteAlertRule(string tenant, string id) =>
        Execute("DELETE FROM alert_rules WHERE tenant = @tenant AND id = @id;", ("@tenant", tenant), ("@id", id)) == 1;

    public bool ClaimAlert(AlertClaim claim) =>
        Execute("INSERT INTO alert_claims (tenant, rule_id, period, subject, fired_ticks) VALUES (@tenant, @rule, @period, @subject, @fired) ON CONFLICT DO NOTHING;",
            ("@tenant", claim.Tenant), ("@rule", claim.RuleId), ("@period", claim.Period), ("@subject", claim.Subject), ("@fired", claim.FiredAt.UtcTicks)) == 1;

    public long AddAlertHistory(AlertHistoryRecord record) =>
        Write(connection => Convert.ToInt64(Scalar(connection, null, """
            INSERT INTO alert_history (tenant, rule_id, rule_kind, period, subject, fired_ticks, channel_id, channel_kind, status, message, detail)
            VALUES (@tenant, @rule, @kind, @period, @subject, @fired, @channel, @channelKind, @status, @message, @detail) RETURNING id;
            """,
            ("@tenant", record.Tenant), ("@rule", record.RuleId), ("@kind", record.RuleKind), ("@period", record.Period), ("@subject", record.Subject),
            ("@fired", record.FiredAt.UtcTicks), ("@channel", record.ChannelId), ("@channelKind", record.ChannelKind), ("@status", record.Status),
            ("@message", record.Message), ("@detail", record.Detail)), CultureInfo.InvariantCulture));

    public IReadOnlyList<AlertHistoryRecord> AlertHistory(string tenant, long beforeId, int limit) =>
        Query("""
            SELECT id, tenant, rule_id, rule_kind, period, subject, fired_ticks, channel_id, channel_kind, status, message, detail
            FROM alert_history WHERE tenant = @tenant AND (@before = 0 OR id < @before) ORDER BY id DESC LIMIT @limit;
            """,
            r => new AlertHistoryRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), Instant(r.GetInt64(6)),
                NullableText(r, 7), NullableText(r, 8), r.GetString(9), r.GetString(10), NullableText(r, 11)),
            ("@tenant", tenant), ("@before", beforeId), ("@limit", (long)limit));

    // ---- Sources of observed usage ----

    private const string SourceColumns = """
        tenant, id, kind, url, settings, secret, interval_seconds, created_ticks, enabled, watermark_ticks, last_attempt_ticks, last_success_ticks,
        failure, last_error, records, repeats, conflicts, license, rejected, rejection
        """;

    /// <summary>
    /// Counts and inserts in one transaction after the dialect's lock on (import_sources, tenant), as
    /// <see cref="InsertUnderLimit"/> does: two adds at once cannot both pass the limit.
    /// </summary>
    public SourceAdded AddSource(SourceRecord source, int limit) =>
        Write(connection =>
        {
            using var tx = connection.BeginTransaction();
            if (Dialect.Lock("@lock") is { } gate)
            {
                Execute(connection, tx, gate, ("@lock", $"tally:import_sources:{source.Tenant}"));
            }
            long Count(string where)
            {
                using var count = Command(connection, tx, $"SELECT COUNT(*) FROM import_sources WHERE tenant = @tenant{where};", ("@tenant", source.Tenant), ("@id", source.Id));
                return Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            }
            var outcome = Count(" AND id = @id") > 0 ? SourceAdded.Exists : Count("") >= limit ? SourceAdded.Full : SourceAdded.Added;
            if (outcome == SourceAdded.Added)
            {
                Execute(connection, tx, $"""
                    INSERT INTO import_sources ({SourceColumns})
                    VALUES (@tenant, @id, @kind, @url, @settings, @secret, @interval, @created, @enabled, 0, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, 0, NULL);
                    """, SourceParameters(source));
            }
            tx.Commit();
            return outcome;
        });

    public IReadOnlyList<(SourceRecord Source, SourceStatus Status)> Sources(string? tenant) =>
        Query($"SELECT {SourceColumns} FROM import_sources {(tenant is null ? "" : "WHERE tenant = @tenant")} ORDER BY tenant{Dialect.Ordinal}, id{Dialect.Ordinal};",
            ReadSource, ("@tenant", tenant ?? ""));

    public (SourceRecord Source, SourceStatus Status)? GetSource(string tenant, string id) =>
        Query($"SELECT {SourceColumns} FROM import_sources WHERE tenant = @tenant AND id = @id;", ReadSource, ("@tenant", tenant), ("@id", id)) is [var found]
            ? found : null;

    public bool UpdateSource(SourceRecord source) =>
        Execute("""
            UPDATE import_sources SET kind = @kind, url = @url, settings = @settings, secret = @secret, interval_seconds = @interval, enabled = @enabled
            WHERE tenant = @tenant AND id = @id;
            """, SourceParameters(source)) == 1;

    public bool RemoveSource(string tenant, string id) =>
        Execute("DELETE FROM import_sources WHERE tenant = @tenant AND id = @id;", ("@tenant", tenant), ("@id", id)) == 1;

    public void RecordPull(string tenant, string id, SourcePull pull) =>
        Execute("""
            UPDATE import_sources SET last_attempt_ticks = @at,
                last_success_ticks = CASE WHEN @ok = 1 THEN @at ELSE last_success_ticks END,
                failure = @failure, last_error = @error,
                watermark_ticks = CASE WHEN @watermark > watermark_ticks THEN @watermark ELSE watermark_ticks END,
                records = records + @added, repeats = repeats + @repeated, conflicts = conflicts + @conflicts,
                license = COALESCE(@license, license), seats = COALESCE(@seats, seats), rejected = @rejected, rejection = @rejection,
                enabled = CASE WHEN @stop = 1 THEN 0 WHEN @ok = 1 THEN 1 ELSE enabled END
            WHERE tenant = @tenant AND id = @id;
            """,
            ("@tenant", tenant), ("@id", id), ("@at", pull.At.UtcTicks), ("@ok", pull.Succeeded ? 1L : 0L), ("@failure", pull.Failure), ("@error", pull.Error),
            ("@watermark", pull.WatermarkTicks), ("@added", pull.Added), ("@repeated", pull.Repeated), ("@conflicts", pull.Conflicts),
            ("@license", pull.LicenseJson), ("@stop", pull.Stop ? 1L : 0L), ("@seats", pull.SeatsJson),
            ("@rejected", pull.Rejected), ("@rejection", pull.Rejection));

    public IReadOnlyList<(string Source, string SeatsJson)> SourceSeats(string tenant) =>
        Query($"SELECT id, seats FROM import_sources WHERE tenant = @tenant AND seats IS NOT NULL ORDER BY id{Dialect.Ordinal};",
            r => (r.GetString(0), r.GetString(1)), ("@tenant", tenant));

    private static (string Name, object? Value)[] SourceParameters(SourceRecord s) =>
    [
        ("@tenant", s.Tenant), ("@id", s.Id), ("@kind", s.Kind), ("@url", s.Url), ("@settings", s.SettingsJson), ("@secret", s.Secret),
        ("@interval", (long)s.IntervalSeconds), ("@created", s.Created.UtcTicks), ("@enabled", s.Enabled ? 1L : 0L),
    ];

    private static (SourceRecord, SourceStatus) ReadSource(DbDataReader r) =>
    (
        new SourceRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : (byte[])r.GetValue(5),
            (int)r.GetInt64(6), Instant(r.GetInt64(7)), r.GetInt64(8) != 0),
        new SourceStatus(r.GetInt64(9), r.IsDBNull(10) ? null : Instant(r.GetInt64(10)), r.IsDBNull(11) ? null : Instant(r.GetInt64(11)), NullableText(r, 12),
            NullableText(r, 13), r.GetInt64(14), r.GetInt64(15), r.GetInt64(16), NullableText(r, 17), r.GetInt64(18), NullableText(r, 19))
    );

    // ---- Offline reports (issue 18) ----

    /// <summary>
    /// The report row first, with ON CONFLICT DO NOTHING: a second insert of the same (tenant, id), even one racing from
    /// another process, waits on the primary key for the first to commit and then inserts nothing, so it never adds
    /// grants. The grants go in one statement from a JSON array, in the same transaction: all of them or, on any
    /// failure, neither they nor the report.
    /// </summary>
    public OfflineReportAdded AddOfflineReport(OfflineReportRecord report) =>
        Write(connection =>
        {
            using var tx = connection.BeginTransaction();
            var inserted = Execute(connection, tx, """
                INSERT INTO offline_reports (tenant, id, client, policy, grace_budget_minutes, from_ticks, to_ticks, received_ticks, period, grants,
                    grace_minutes, denied_checks, dropped_events)
                VALUES (@tenant, @id, @client, @policy, @budget, @from, @to, @received, @period, @grants, @minutes, @denied, @dropped)
                ON CONFLICT (tenant, id) DO NOTHING;
                """,
                ("@tenant", report.Tenant), ("@id", report.Id), ("@client", report.Client), ("@policy", report.Policy), ("@budget", (long)report.GraceBudgetMinutes),
                ("@from", report.From.UtcTicks), ("@to", report.To.UtcTicks), ("@received", report.Received.UtcTicks), ("@period", report.Period),
                ("@grants", (long)report.Grants.Count), ("@minutes", (long)report.GraceMinutes), ("@denied", (long)report.DeniedChecks), ("@dropped", report.DroppedEvents));
            if (inserted == 0)
            {
                using var stored = Command(connection, tx, "SELECT grants, grace_minutes FROM offline_reports WHERE tenant = @tenant AND id = @id;",
                    ("@tenant", report.Tenant), ("@id", report.Id));
                using var reader = stored.ExecuteReader();
                reader.Read();
                var duplicate = new OfflineReportAdded(true, (int)reader.GetInt64(0), (int)reader.GetInt64(1));
                reader.Close();
                tx.Commit();
                return duplicate;
            }
            if (report.Grants.Count > 0)
            {
                var rows = JsonSerializer.Serialize(report.Grants.Select((g, i) => new object?[] { i, g.EventId, g.User, g.Device, g.App, g.Action, g.Time.UtcTicks, g.Minutes }));
                Execute(connection, tx, $"""
                    INSERT INTO offline_grants (tenant, report_id, idx, event_id, user_name, device, app, action, time_ticks, minutes)
                    SELECT @tenant, @id, CAST(value->>0 AS BIGINT), value->>1, value->>2, value->>3, value->>4, value->>5, CAST(value->>6 AS BIGINT),
                        CAST(value->>7 AS BIGINT)
                    FROM {Dialect.JsonRows("@rows")};
                    """, ("@tenant", report.Tenant), ("@id", report.Id), ("@rows", rows));
            }
            tx.Commit();
            return new OfflineReportAdded(false, report.Grants.Count, report.GraceMinutes);
        });

    /// <summary>
    /// Two reads on one connection: the period's reports, then their grants. Each grant probes the events' (tenant,
    /// event_id) unique index, then the decisions' primary key by event: an ordinary event's decision is in its own row
    /// (v8); any other's (a denial, a reload's several) in the decisions table, summarised by <see cref="ServerDecision"/>.
    /// </summary>
    public Task<IReadOnlyList<StoredOfflineReport>> OfflineReportsAsync(string tenant, string period, CancellationToken cancellation) =>
        ReadAsync<IReadOnlyList<StoredOfflineReport>>(async (connection, ct) =>
        {
            var reports = await ReadAllAsync(connection, $"""
                SELECT id, client, policy, grace_budget_minutes, from_ticks, to_ticks, received_ticks, denied_checks, dropped_events FROM offline_reports
                WHERE tenant = @tenant AND period = @period ORDER BY received_ticks DESC, id{Dialect.Ordinal};
                """,
                r => new OfflineReportRecord(tenant, r.GetString(0), r.GetString(1), r.GetString(2), (int)r.GetInt64(3), Instant(r.GetInt64(4)), Instant(r.GetInt64(5)),
                    Instant(r.GetInt64(6)), period, (int)r.GetInt64(7), r.GetInt64(8), []),
                ct, ("@tenant", tenant), ("@period", period));
            if (reports.Count == 0)
            {
                return [];
            }
            var grants = await ReadAllAsync(connection, """
                SELECT g.report_id, g.event_id, g.user_name, g.device, g.app, g.action, g.time_ticks, g.minutes, e.seq, e.decision_kind,
                    (SELECT COUNT(*) FROM decisions d WHERE d.event_seq = e.seq),
                    (SELECT COUNT(*) FROM decisions d WHERE d.event_seq = e.seq AND d.kind = 'charged'),
                    (SELECT COUNT(*) FROM decisions d WHERE d.event_seq = e.seq AND d.kind = 'denied'),
                    (SELECT d.kind FROM decisions d WHERE d.event_seq = e.seq AND d.idx = 0),
                    (SELECT d.reason FROM decisions d WHERE d.event_seq = e.seq AND d.kind = 'denied' ORDER BY d.idx LIMIT 1)
                FROM offline_reports r
                JOIN offline_grants g ON g.tenant = r.tenant AND g.report_id = r.id
                LEFT JOIN events e ON e.tenant = g.tenant AND e.event_id = g.event_id
                WHERE r.tenant = @tenant AND r.period = @period ORDER BY g.report_id, g.idx;
                """,
                r =>
                {
                    var (decision, reason) = r.IsDBNull(8) ? (null, null)
                        : ServerDecision(NullableText(r, 9), r.GetInt64(10), r.GetInt64(11), r.GetInt64(12), NullableText(r, 13), NullableText(r, 14));
                    return (Report: r.GetString(0), Grant: new StoredOfflineGrant(new OfflineGrantRecord(r.GetString(1), r.GetString(2), NullableText(r, 3),
                        r.GetString(4), r.GetString(5), Instant(r.GetInt64(6)), (int)r.GetInt64(7)), decision, reason));
                },
                ct, ("@tenant", tenant), ("@period", period));
            var byReport = grants.GroupBy(g => g.Report, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(x => x.Grant).ToList(), StringComparer.Ordinal);
            return [.. reports.Select(report =>
            {
                var rows = byReport.GetValueOrDefault(report.Id) ?? [];
                return new StoredOfflineReport(report with { Grants = [.. rows.Select(g => g.Grant)] }, rows);
            })];
        }, cancellation);

    /// <summary>
    /// One decision for a recorded event, as <c>POST /api/v1/events</c> answered it: the decision in the event's own
    /// row; else its one decision in the decisions table (a denial, with its reason); else, for a scheduled reload's
    /// several, charged if any key was charged, denied if every key was, otherwise covered; free with none at all.
    /// </summary>
    private static (string? Decision, string? Reason) ServerDecision(string? inRow, long count, long charged, long denied, string? first, string? deniedReason) =>
        inRow is not null ? (inRow, null)
        : count == 0 ? ("free", null)
        : count == 1 ? (first, first == "denied" ? deniedReason : null)
        : charged > 0 ? ("charged", null)
        : denied == count ? ("denied", deniedReason)
        : ("covered", null);

    // ---- ADO.NET, once for both providers ----

    private int Execute(string sql, params (string Name, object? Value)[] parameters) => Write(connection => Execute(connection, null, sql, parameters));

    private List<T> Query<T>(string sql, Func<DbDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        using var connection = OpenRead();
        using var command = Command(connection, null, sql, parameters);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    private Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> read, CancellationToken cancellation, params (string Name, object? Value)[] parameters) =>
        ReadAsync((connection, ct) => ReadAllAsync(connection, sql, read, ct, parameters), cancellation);

    private static async Task<List<T>> ReadAllAsync<T>(DbConnection connection, string sql, Func<DbDataReader, T> read, CancellationToken cancellation,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellation))
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    /// <summary>A command with <c>@name</c> parameters; SQLite needs the open transaction named on every command.</summary>
    private protected static DbCommand Command(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    internal static int Execute(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, tx, sql, parameters);
        return command.ExecuteNonQuery();
    }

    internal static object? Scalar(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, tx, sql, parameters);
        return command.ExecuteScalar();
    }

    private static string? NullableText(DbDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);

    private static DateTimeOffset Instant(long ticks) => new(ticks, TimeSpan.Zero);
}
