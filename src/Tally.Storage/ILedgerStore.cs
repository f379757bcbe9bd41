namespace Tally.Storage;

/// <summary>Opening the ledger: migrations, the schema version and the readiness write.</summary>
public interface ILedgerLifecycle
{
    /// <summary>Applies every migration script the database has not had yet, each once, in its own transaction. Idempotent.</summary>
    void Initialize();

    /// <summary>The newest migration applied to the database (0 before <see cref="Initialize"/>).</summary>
    int SchemaVersion();

    /// <summary>
    /// Readiness: null when the store answers at the current schema version and commits a write (one small transaction
    /// that must reach the disk or the server's WAL). Otherwise why not, for the operator's log. Never throws.
    /// </summary>
    string? CheckWritable();
}

/// <summary>
/// The ledger proper: events with their decisions and units, and the terms changes between them, in recorded order.
/// <see cref="Append(string, IReadOnlyList{LedgerEntry}, ActivityMarks?)"/> writes a group in one transaction and is durable when it returns; an event id that is already
/// in the tenant's ledger makes the whole append fail (the unique constraint is the dedupe of record).
/// </summary>
public interface IEventLedger
{
    /// <summary>Appends events with their decisions and units, and their last activity, in one durable transaction (the marks of these entries alone).</summary>
    void Append(string tenant, IReadOnlyList<LedgerEntry> entries);

    /// <summary>
    /// Appends events with their decisions and units in one durable transaction (possibly none, to record activity
    /// alone). <paramref name="activity"/>: null when the caller keeps these events' last activity for a later append;
    /// otherwise the last activity of every event appended since the tenant's activity was last recorded, these
    /// included, which is then recorded through this append (<see cref="ActivityRecordedThrough"/>).
    /// </summary>
    void Append(string tenant, IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity);

    /// <summary>
    /// <see cref="Append(string, IReadOnlyList{LedgerEntry}, ActivityMarks?)"/>, fenced: with a <paramref name="claim"/>,
    /// the same transaction counts the commit on the tenant's claim only while the claim's epoch is still the newest, and
    /// otherwise rolls back and throws <see cref="LedgerFencedException"/> with nothing of the group written. On
    /// PostgreSQL that check is the transaction's last statement, so the claim's row is locked for the commit alone: a
    /// claim racing it either waits for it (and the new owner's replay then sees it) or commits first (and it is refused).
    /// Null: unfenced, as the 3-argument overload.
    /// </summary>
    void Append(string tenant, IReadOnlyList<LedgerEntry> entries, ActivityMarks? activity, TenantClaim? claim);

    /// <summary>
    /// Claims the tenant for <paramref name="owner"/>: one statement that creates the tenant's claim at epoch 1 or moves
    /// it to the next epoch, durable when it returns. Every claim handed out before is stale from then on, so its holder
    /// commits nothing more (<see cref="LedgerFencedException"/>). A writer claims before it replays the ledger, so its
    /// replay sees every commit an earlier owner made.
    /// </summary>
    TenantClaim ClaimTenant(string tenant, string owner, DateTimeOffset at);

    /// <summary>
    /// The sequence number up to which the tenant's events have their last activity recorded (0: none yet): a writer
    /// that lost the marks it kept (a crash) takes them again from the events after it.
    /// </summary>
    long ActivityRecordedThrough(string tenant);

    /// <summary>The tenant's events in recorded order (for rebuilding its meter).</summary>
    IEnumerable<StoredEvent> Events(string tenant);

    long EventCount(string tenant);

    /// <summary>Those of <paramref name="recordIds"/> the ledger already holds for the tenant's <paramref name="source"/>, as first recorded (R13).</summary>
    IReadOnlyDictionary<string, ObservedRecordRow> ObservedRecords(string tenant, string source, IReadOnlyCollection<string> recordIds);

    /// <summary>Those of <paramref name="eventIds"/> the tenant's ledger already holds (the idempotency check of record, R10).</summary>
    IReadOnlySet<string> KnownEventIds(string tenant, IReadOnlyCollection<string> eventIds);

    /// <summary>
    /// Records that the tenant's terms (license key and allocation plan, as stored now) took effect after the tenant's
    /// first <see cref="TermsChange.AfterEvents"/> recorded events, so a rebuild puts them into force at that point.
    /// </summary>
    void RecordTermsChange(string tenant, TermsChange change);

    /// <summary><see cref="RecordTermsChange(string, TermsChange)"/>, fenced by <paramref name="claim"/> in the same transaction as a fenced <see cref="Append(string, IReadOnlyList{LedgerEntry}, ActivityMarks?, TenantClaim?)"/>.</summary>
    void RecordTermsChange(string tenant, TermsChange change, TenantClaim? claim);

    /// <summary>The tenant's terms changes in the order they were recorded.</summary>
    IReadOnlyList<TermsChange> TermsChanges(string tenant);
}

/// <summary>Tenants, their API keys and the terms in force now (license key, allocation plan).</summary>
public interface ITenantCatalog
{
    /// <summary>False when a tenant with that id exists already.</summary>
    bool CreateTenant(TenantRecord tenant);

    TenantRecord? GetTenant(string id);

    /// <summary>Every tenant, by id (ordinal).</summary>
    IReadOnlyList<TenantRecord> Tenants();

    void AddApiKey(ApiKeyRecord key);

    ApiKeyRecord? FindApiKey(byte[] hash);

    ApiKeyRecord? GetApiKey(string id);

    /// <summary>The tenant's keys (null: the bootstrap keys that belong to no tenant), oldest first.</summary>
    IReadOnlyList<ApiKeyRecord> ApiKeys(string? tenant);

    bool HasActiveKey(ApiRole role);

    /// <summary>False when there is no such key or it was revoked already.</summary>
    bool RevokeApiKey(string id, DateTimeOffset when);

    /// <summary>
    /// Runs <paramref name="work"/> while no other process on this database runs work of the same
    /// <paramref name="purpose"/>: a check that reads other tenants and then writes (a license install) holds across a
    /// cluster's nodes as it does within one process.
    /// </summary>
    T Exclusively<T>(string purpose, Func<T> work);

    void SetLicense(LicenseRecord license);

    LicenseRecord? GetLicense(string tenant);

    /// <summary>Stores the tenant's allocation plan (users, groups, caps) as a JSON document the server owns.</summary>
    void SetPlan(string tenant, string planJson, DateTimeOffset when);

    string? GetPlan(string tenant);

    /// <summary>Replaces the tenant's working calendar (issue 16).</summary>
    void SetWorkCalendar(string tenant, WorkCalendarSetting setting, DateTimeOffset when);

    /// <summary>The tenant's working calendar as stored; null when it never set one (then <see cref="WorkCalendarSetting.Default"/>).</summary>
    WorkCalendarSetting? GetWorkCalendar(string tenant);
}

/// <summary>Dashboard sign-in sessions kept in the database, for a cluster's nodes to share (a single node keeps its own in memory).</summary>
public interface ISessionCatalog
{
    /// <summary>
    /// Drops the sessions last used before <paramref name="idleBefore"/> or begun before <paramref name="createdBefore"/>,
    /// then adds <paramref name="session"/> unless <paramref name="cap"/> sessions remain; false when at the cap. The count
    /// and the insert hold against every process on the database.
    /// </summary>
    bool AddSession(SessionRecord session, int cap, DateTimeOffset idleBefore, DateTimeOffset createdBefore);

    SessionRecord? GetSession(string id);

    /// <summary>Records a use; a session ended meanwhile stays ended (the update finds no row).</summary>
    void TouchSession(string id, DateTimeOffset lastSeen);

    /// <summary>False when there was no such session.</summary>
    bool EndSession(string id);

    int SessionCount();
}

/// <summary>The tenants' sources of observed usage and their status (rule R13, the import).</summary>
public interface ISourceCatalog
{
    /// <summary>
    /// Adds the source unless the tenant has one with that id already or already has <paramref name="limit"/> sources;
    /// the count is part of the insert, so two adds at once cannot both pass it.
    /// </summary>
    SourceAdded AddSource(SourceRecord source, int limit);

    /// <summary>The tenant's sources (null: every tenant's, for the scheduler), by tenant and id (ordinal).</summary>
    IReadOnlyList<(SourceRecord Source, SourceStatus Status)> Sources(string? tenant);

    (SourceRecord Source, SourceStatus Status)? GetSource(string tenant, string id);

    /// <summary>Replaces the source's settings (address, settings, secret, interval, enabled); false when there is none.</summary>
    bool UpdateSource(SourceRecord source);

    /// <summary>Removes the source and its status (what it imported stays in the ledger); false when there is none.</summary>
    bool RemoveSource(string tenant, string id);

    /// <summary>
    /// Adds one pull's outcome to the source's status; the watermark only moves forward; a success enables a stopped
    /// source again; the license and seats it read replace the ones held (a pull that read none keeps them).
    /// </summary>
    void RecordPull(string tenant, string id, SourcePull pull);

    /// <summary>The seats each of the tenant's sources last reported (JSON, as <see cref="SourcePull.SeatsJson"/>), by source id; sources that reported none are absent.</summary>
    IReadOnlyList<(string Source, string SeatsJson)> SourceSeats(string tenant);
}

/// <summary>
/// What the reports read. All instants are UTC ticks; ranges are half-open [from, to). What only the report endpoints
/// read is async, cancelled with the request; what the alert evaluator and the CLI share with them
/// (<see cref="PeriodUsage"/>, <see cref="UserUsage"/>, <see cref="FirstEventTicks"/>, <see cref="HourlyPoolMinutes"/>,
/// through <c>UsageMonitor.Compute</c>) and the consumption pages (<see cref="Units"/>) are still synchronous.
/// </summary>
public interface IUsageReports
{
    PeriodUsage PeriodUsage(string tenant, string period);

    /// <summary>Per user of the period: most minutes first, then most units, then name (ordinal).</summary>
    IReadOnlyList<UserUsage> UserUsage(string tenant, string period);

    UnitPage Units(string tenant, UnitQuery query);

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
    Task<IReadOnlyList<UserHourUsage>> UserHoursAsync(string tenant, long fromTicks, long toTicks, CancellationToken cancellation);

    /// <summary>
    /// A page of the users with units or denied decisions in the period, ordered, searched and paged by the database
    /// from the rollups: the page's rows plus an indexed count, not the period's units (the users page). Async because
    /// it is read on the request path; cancelled with the request.
    /// </summary>
    Task<ReportPage<UserActivity>> UsersPageAsync(string tenant, PageQuery<UserSort> query, CancellationToken cancellation);

    /// <summary>A page of the apps with units in the period, like <see cref="UsersPageAsync"/> (the apps page).</summary>
    Task<ReportPage<AppActivity>> AppsPageAsync(string tenant, PageQuery<AppSort> query, CancellationToken cancellation);

    /// <summary>
    /// Every user with units or denied decisions in <paramref name="period"/>; last activity is the latest event in [from, to). Unordered.
    /// Scans the period's rows (seconds at a million units): the pages use <see cref="UsersPageAsync"/>; this stays as
    /// the contract's oracle for the rollups and the benchmarks' baseline.
    /// </summary>
    IReadOnlyList<UserActivity> UserActivity(string tenant, string period, long fromTicks, long toTicks);

    /// <summary>Every app with units in <paramref name="period"/>; last activity is the latest event naming it in [from, to). Unordered. Scans like <see cref="UserActivity"/>.</summary>
    IReadOnlyList<AppActivity> AppActivity(string tenant, string period, long fromTicks, long toTicks);

    /// <summary>Denied decisions of <paramref name="period"/> counted per user and per the reason the ledger recorded with each. Unordered.</summary>
    Task<IReadOnlyList<UserDenials>> DenialsAsync(string tenant, string period, CancellationToken cancellation);

    /// <summary>
    /// The units of <paramref name="period"/> a scheduled reload started, and the idle-reload ones among them: a unit
    /// is idle when its user's latest engagement on its key is <paramref name="quietTicks"/> or more before its start, or
    /// there was none (<c>IdleReload.IsIdle</c>). Reads only reload-started units (a partial index, v13).
    /// </summary>
    Task<StoredReloadWaste> ReloadWasteAsync(string tenant, string period, long quietTicks, CancellationToken cancellation);

    /// <summary>
    /// The pool minutes of <paramref name="period"/>'s idle-reload units alone (<see cref="ReloadWasteAsync"/>'s
    /// <c>Total.IdleMinutes</c>): what an alert rule compares, read from the partial index without grouping.
    /// </summary>
    Task<long> IdleReloadMinutesAsync(string tenant, string period, long quietTicks, CancellationToken cancellation);
}

/// <summary>Alert channels and rules, the fire-once marks and the delivery history.</summary>
public interface IAlertStore
{
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
}

/// <summary>Clients' reports of what they decided while Tally was unreachable (issue 18).</summary>
public interface IOfflineReports
{
    /// <summary>
    /// Stores the report and all its grants in one transaction, or nothing. A report whose (tenant, id) is stored already
    /// changes nothing: the answer says so, with the figures stored the first time (the first report wins, even when the
    /// second differs: the client's id is its identity).
    /// </summary>
    OfflineReportAdded AddOfflineReport(OfflineReportRecord report);

    /// <summary>
    /// The tenant's reports of <paramref name="period"/>, newest received first (then by id), each with its grants in
    /// the client's order joined to the server's decision on the same event id in the same tenant.
    /// </summary>
    Task<IReadOnlyList<StoredOfflineReport>> OfflineReportsAsync(string tenant, string period, CancellationToken cancellation);
}

/// <summary>
/// One store object is all of these: the server registers it once under this name and hands each consumer only the narrow
/// interface it uses. Nothing but the registration, the tenant's writer (which owns the ledger) and tests that open a
/// store should need the whole. Every member of every store is safe to call from many threads.
/// </summary>
public interface ILedgerStore : ILedgerLifecycle, IEventLedger, ITenantCatalog, ISessionCatalog, ISourceCatalog, IUsageReports, IAlertStore, IOfflineReports, IDisposable;
