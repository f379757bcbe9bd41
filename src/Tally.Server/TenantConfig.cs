using System.Text.Json;
using System.Text.Json.Serialization;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.Server;

/// <summary>The allocation plan (<see cref="AllocationPlanDto"/>, the API's shape) as the ledger stores it and the core applies it.</summary>
public static class AllocationPlans
{
    /// <summary>The plan document's JSON in the ledger: the wire's names, nulls left out.</summary>
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Converts to the core plan, or returns the first problem (unknown allocation names).</summary>
    public static Outcome<AllocationPlan, string> ToPlan(this AllocationPlanDto dto)
    {
        var rows = new List<UserAssignment>();
        foreach (var (user, i) in (dto.Users ?? []).Select((u, i) => (u, i)))
        {
            if (user is null)
            {
                return $"users[{i}] is null";
            }
            Allocation? allocation = string.IsNullOrEmpty(user.Allocation) ? null : AllocationNames.FromWire(user.Allocation);
            if (allocation == Allocation.None)
            {
                return $"users[{i}].allocation must be professional, analyzer or capacity (or omitted)";
            }
            if (user.User is not { Length: > 0 and <= EventValidation.MaxFieldLength })
            {
                return $"users[{i}].user must be 1 to {EventValidation.MaxFieldLength} characters";
            }
            rows.Add(new UserAssignment(user.User, allocation, user.Groups ?? [], user.CapMinutes));
        }
        return new AllocationPlan
        {
            Users = rows,
            CapacityGroups = new HashSet<string>(dto.CapacityGroups ?? [], StringComparer.Ordinal),
            GroupCapMinutes = new Dictionary<string, long>(dto.GroupCapMinutes ?? new Dictionary<string, long>(), StringComparer.Ordinal),
            EveryoneCapMinutes = dto.EveryoneCapMinutes,
            AutoAssignProfessional = dto.AutoAssignProfessional,
            AutoAssignAnalyzer = dto.AutoAssignAnalyzer,
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
            ? JsonSerializer.Deserialize<AllocationPlanDto>(planJson, AllocationPlans.Json) ?? new AllocationPlanDto()
            : new AllocationPlanDto();
        return new TenantConfig(terms, plan);
    }
}
