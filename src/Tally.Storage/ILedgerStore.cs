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

    bool ContainsEventId(string tenant, string eventId);

    PeriodUsage PeriodUsage(string tenant, string period);

    IReadOnlyList<UserUsage> UserUsage(string tenant, string period);

    IReadOnlyList<AppUsage> AppUsage(string tenant, string period);

    UnitPage Units(string tenant, UnitQuery query);

    /// <summary>Units held by named users (seat records) in a period, per allocation: distinct users.</summary>
    long DistinctUsers(string tenant, string period, string licenseUsage);

    /// <summary>Cheap check that the store answers (readiness).</summary>
    bool Ping();
}
