using System.Text.Json;
using System.Text.Json.Serialization;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.Server;

/// <summary>
/// One user's row of the allocation plan as the API reads and writes it. <c>Assigned</c> is when the row's Professional or
/// Analyzer seat was assigned; the server sets it and ignores what a caller sends.
/// </summary>
public sealed record UserPlanDto(string User, string? Allocation, IReadOnlyList<string>? Groups, long? CapMinutes, DateTimeOffset? Assigned = null);

/// <summary>The tenant's allocation plan on the wire and in the ledger (R9).</summary>
public sealed record AllocationPlanDto
{
    public IReadOnlyList<UserPlanDto> Users { get; init; } = [];
    public IReadOnlyList<string> CapacityGroups { get; init; } = [];
    public IReadOnlyDictionary<string, long> GroupCapMinutes { get; init; } = new Dictionary<string, long>();
    public long? EveryoneCapMinutes { get; init; }
    public bool AutoAssignProfessional { get; init; }
    public bool AutoAssignAnalyzer { get; init; }

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Converts to the core plan, or returns the first problem (unknown allocation names).</summary>
    public AllocationPlan ToPlan(out string? problem)
    {
        problem = null;
        var rows = new List<UserAssignment>();
        foreach (var (user, i) in (Users ?? []).Select((u, i) => (u, i)))
        {
            if (user is null)
            {
                problem = $"users[{i}] is null";
                return AllocationPlan.Empty;
            }
            Allocation? allocation = string.IsNullOrEmpty(user.Allocation) ? null : AllocationNames.FromWire(user.Allocation);
            if (allocation == Allocation.None)
            {
                problem = $"users[{i}].allocation must be professional, analyzer or capacity (or omitted)";
                return AllocationPlan.Empty;
            }
            if (user.User is not { Length: > 0 and <= EventValidation.MaxFieldLength })
            {
                problem = $"users[{i}].user must be 1 to {EventValidation.MaxFieldLength} characters";
                return AllocationPlan.Empty;
            }
            rows.Add(new UserAssignment(user.User, allocation, user.Groups ?? [], user.CapMinutes));
        }
        return new AllocationPlan
        {
            Users = rows,
            CapacityGroups = new HashSet<string>(CapacityGroups ?? [], StringComparer.Ordinal),
            GroupCapMinutes = new Dictionary<string, long>(GroupCapMinutes ?? new Dictionary<string, long>(), StringComparer.Ordinal),
            EveryoneCapMinutes = EveryoneCapMinutes,
            AutoAssignProfessional = AutoAssignProfessional,
            AutoAssignAnalyzer = AutoAssignAnalyzer,
        };
    }
}

/// <summary>What governs one tenant's meter: the verified license terms (or none: meter only) and the allocation plan.</summary>
public sealed record TenantConfig(LicenseTerms? License, AllocationPlanDto Plan)
{
    public MeterOptions MeterOptions => License?.ToMeterOptions() ?? new MeterOptions();

    public SeatLicense Seats => License?.ToSeatLicense() ?? new SeatLicense(0, 0, true);

    /// <summary>The terms as stored: a license key (verified on install; here only its signature is re-checked, dates are the meter's job) and a plan document.</summary>
    public static TenantConfig FromStored(string? licenseKey, string? planJson, LicenseVerifier? verifier)
    {
        LicenseTerms? terms = null;
        if (licenseKey is not null && verifier is not null)
        {
            var verification = verifier.VerifyAuthentic(licenseKey);
            terms = verification.IsValid ? verification.Terms : null;
        }
        var plan = planJson is not null
            ? JsonSerializer.Deserialize<AllocationPlanDto>(planJson, AllocationPlanDto.Json) ?? new AllocationPlanDto()
            : new AllocationPlanDto();
        return new TenantConfig(terms, plan);
    }
}
