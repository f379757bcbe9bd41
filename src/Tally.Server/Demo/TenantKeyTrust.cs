using Tally.Licensing;

namespace Tally.Server;

/// <summary>A tenant whose licenses are verified with their own key instead of the vendor key (the demo tenant).</summary>
public sealed record TenantKeyTrust(string Tenant, LicenseVerifier Verifier);
