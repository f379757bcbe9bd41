namespace Tally.Contract;

/// <summary><c>POST /api/v1/tenants</c>. <c>Name</c> defaults to the id.</summary>
public sealed record CreateTenantRequest(string? Id, string? Name);

/// <summary>The answer to <c>POST /api/v1/tenants</c>.</summary>
public sealed record CreatedTenant(string Id, string Name);

/// <summary>One row of <c>GET /api/v1/tenants</c>.</summary>
public sealed record TenantInfo(string Id, string Name, DateTimeOffset Created);

/// <summary><c>POST /api/v1/api-keys</c> and <c>POST /api/v1/tenants/{id}/api-keys</c>: <c>Role</c> is ingest, read or admin.</summary>
public sealed record CreateKeyRequest(string? Role);

/// <summary>A newly issued key: the only answer that carries the secret <c>Key</c>.</summary>
public sealed record IssuedApiKey(string Id, string Key, string Tenant, string Role);

/// <summary>One row of <c>GET /api/v1/api-keys</c>; <c>Revoked</c> is absent while the key is valid.</summary>
public sealed record ApiKeyInfo(string Id, string Role, DateTimeOffset Created, DateTimeOffset? Revoked);

/// <summary><c>PUT /api/v1/license</c>: a signed license key.</summary>
public sealed record LicenseRequest(string? Key);

/// <summary>The installed license's terms (<c>GET</c> and <c>PUT /api/v1/license</c>). <c>Mode</c> is device or app.</summary>
public sealed record LicenseView(
    string LicenseId, string Customer, DateTimeOffset ValidFrom, DateTimeOffset ValidTo, string Mode, int UnitMinutes, int Packs, int PackMinutes,
    long IncludedMinutes, string Overage, int ProfessionalSeats, int AnalyzerSeats, string TimeZone, bool AnonymousCapacity);

/// <summary>
/// One user's row of the allocation plan as the API reads and writes it. <c>Assigned</c> is when the row's Professional or
/// Analyzer seat was assigned; the server sets it and ignores what a caller sends.
/// </summary>
public sealed record UserPlanDto(string User, string? Allocation, IReadOnlyList<string>? Groups, long? CapMinutes, DateTimeOffset? Assigned = null);

/// <summary>The tenant's allocation plan on the wire and in the ledger (R9): <c>GET</c>/<c>PUT /api/v1/allocations</c>.</summary>
public sealed record AllocationPlanDto
{
    public IReadOnlyList<UserPlanDto> Users { get; init; } = [];
    public IReadOnlyList<string> CapacityGroups { get; init; } = [];
    public IReadOnlyDictionary<string, long> GroupCapMinutes { get; init; } = new Dictionary<string, long>();
    public long? EveryoneCapMinutes { get; init; }
    public bool AutoAssignProfessional { get; init; }
    public bool AutoAssignAnalyzer { get; init; }
}
