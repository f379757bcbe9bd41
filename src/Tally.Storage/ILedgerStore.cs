namespace Tally.Storage;

/// <summary>
/// The ledger contract. Every method is safe to call from many threads. <see cref="Append"/> writes a group of
/// events, their decisions and units in one transaction and is durable when it returns; an event id that is already
/// in the tenant's ledger makes the whole append fail (the unique constraint is the dedupe of record).
/// </summary>
public interface ILedgerStore : IDisposable
{
    /// <summary>Creates or upgrades the schema. Idempotent.</summary>
    void Initialize();

    int SchemaVersion();

    bool CreateTenant(TenantRecord tenant);

    TenantRecord? GetTenant(string id);

    IReadOnlyList<TenantRecord> Tenants();

    void AddApiKey(ApiKeyRecord key);

    ApiKeyRecord? FindApiKey(byte[] hash);

    ApiKeyRecord? GetApiKey(string id);

    IReadOnlyList<ApiKeyRecord> ApiKeys(string? tenant);

    bool HasActiveKey(ApiRole role);

    bool RevokeApiKey(string id, DateTimeOffset when);

    void SetLicense(LicenseRecord license);

    LicenseRecord? GetLicense(string tenant);

    /// <summary>Stores the tenant's allocation plan (users, groups, caps) as a JSON document the server owns.</summary>
    void SetPlan(string tenant, string planJson, DateTimeOffset when);

    string? GetPlan(string tenant);

    /// <summary>
    /// Records that the tenant's terms (license key and allocation plan, as stored now) took effect after the tenant's
    /// first <see cref="TermsChange.AfterEvents"/> recorded events, so a rebuild puts them into force at that point.
    /// </summary>
    void RecordTermsChange(string tenant, TermsChange change);

    /// <summary>The tenant's terms changes in the order they were recorded.</summary>
    IReadOnlyList<TermsChange> TermsChanges(string tenant);

    /// <summary>Appends events with their decisions and units in one durable transaction.</summary>
    void Append(string tenant, IReadOnlyList<LedgerEntry> entries);

    /// <summary>The tenant's events in recorded order (for rebuilding its meter).</summary>
    IEnumerable<StoredEvent> Events(string tenant);

    long EventCount(string tenant);

    /// <summary>Those of <paramref name="eventIds"/> the tenant's ledger already holds (the idempotency check of record, R10).</summary>
    IReadOnlySet<string> KnownEventIds(string tenant, IReadOnlyCollection<string> eventIds);

    PeriodUsage PeriodUsage(string tenant, string period);

    IReadOnlyList<UserUsage> UserUsage(string tenant, string period);

    IReadOnlyList<AppUsage> AppUsage(string tenant, string period);

    UnitPage Units(string tenant, UnitQuery query);

    /// <summary>Units held by named users (seat records) in a period, per allocation: distinct users.</summary>
    long DistinctUsers(string tenant, string period, string licenseUsage);

    // ---- Monitoring (issue 6). All instants are UTC ticks; ranges are half-open [from, to). ----

    /// <summary>Server time of the tenant's first recorded event, or null with none (forecast history never starts earlier).</summary>
    long? FirstEventTicks(string tenant);

    /// <summary>
    /// Pool minutes per UTC hour: units with <c>license_usage = 'time'</c> whose start is in [from, to), grouped by
    /// <c>start_ticks / 36000000000 * 36000000000</c> (integer division), ordered by hour. Hours without units are absent.
    /// </summary>
    IReadOnlyList<HourlyMinutes> HourlyPoolMinutes(string tenant, long fromTicks, long toTicks);

    /// <summary>
    /// Per (UTC hour, user): units and minutes of units starting in [from, to), and denied decisions whose event's
    /// server time is in [from, to). Ordered by hour, then user. The server folds these into hour or day buckets.
    /// </summary>
    IReadOnlyList<UserHourUsage> UserHours(string tenant, long fromTicks, long toTicks);

    /// <summary>Every user with units or denied decisions in <paramref name="period"/>; last activity is the latest event in [from, to). Unordered.</summary>
    IReadOnlyList<UserActivity> UserActivity(string tenant, string period, long fromTicks, long toTicks);

    /// <summary>Every app with units in <paramref name="period"/>; last activity is the latest event naming it in [from, to). Unordered.</summary>
    IReadOnlyList<AppActivity> AppActivity(string tenant, string period, long fromTicks, long toTicks);

    /// <summary>Denied decisions of <paramref name="period"/> counted per user and per the reason the ledger recorded with each. Unordered.</summary>
    IReadOnlyList<UserDenials> Denials(string tenant, string period);

    // ---- Alerts (issue 6) ----

    /// <summary>
    /// Adds a channel unless the tenant already has <paramref name="limit"/> of them (then false). Counting and
    /// inserting are one atomic step, also between processes sharing the database, so racing adds stop at the limit.
    /// </summary>
    bool TryAddAlertChannel(AlertChannelRecord channel, int limit);

    /// <summary>The tenant's channels, oldest first.</summary>
    IReadOnlyList<AlertChannelRecord> AlertChannels(string tenant);

    /// <summary>Deletes a channel of the tenant; false when it has no such channel.</summary>
    bool DeleteAlertChannel(string tenant, string id);

    /// <summary>Adds a rule unless the tenant already has <paramref name="limit"/> of them (then false); atomic like <see cref="TryAddAlertChannel"/>.</summary>
    bool TryAddAlertRule(AlertRuleRecord rule, int limit);

    /// <summary>The tenant's rules, oldest first.</summary>
    IReadOnlyList<AlertRuleRecord> AlertRules(string tenant);

    /// <summary>Deletes a rule of the tenant; false when it has no such rule. Its fired marks stay (ids are never reused).</summary>
    bool DeleteAlertRule(string tenant, string id);

    /// <summary>
    /// Claims the right to send one alert: inserts the mark with a unique constraint on (tenant, rule, period,
    /// subject) and returns true only for the caller whose insert made it (INSERT … ON CONFLICT DO NOTHING).
    /// Durable before it returns, so a restart never sends the same alert again.
    /// </summary>
    bool ClaimAlert(AlertClaim claim);

    /// <summary>Appends one history row and returns its id (increasing per store).</summary>
    long AddAlertHistory(AlertHistoryRecord record);

    /// <summary>The tenant's history, newest first: rows with id below <paramref name="beforeId"/> (0: from the newest), at most <paramref name="limit"/>.</summary>
    IReadOnlyList<AlertHistoryRecord> AlertHistory(string tenant, long beforeId, int limit);

    /// <summary>
    /// Readiness: null when the store answers at the current schema version and commits a write (the current schema
    /// row rewritten with itself: one small transaction that changes nothing but must reach the disk or the server's
    /// WAL). Otherwise why not, for the operator's log. Never throws.
    /// </summary>
    string? CheckWritable();
}
