using System.Security.Cryptography;
using Tally.Metering;

namespace Tally.Licensing.Tests;

/// <summary>Shared fixtures: one vendor key pair per test class run is enough, keys are cheap but not free.</summary>
internal static class TestLicenses
{
    public static readonly DateTimeOffset From = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset To = new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static ECDsa VendorKey { get; } = SigningKeys.Generate();

    public static ECDsa OtherKey { get; } = SigningKeys.Generate();

    public static LicenseTerms Terms(int packs = 3) => new()
    {
        LicenseId = "LIC-0001",
        Customer = "Acme Analytics",
        IssuedAt = new DateTimeOffset(2025, 12, 15, 10, 30, 0, TimeSpan.Zero),
        ValidFrom = From,
        ValidTo = To,
        Mode = CountingMode.App,
        Packs = packs,
        Overage = OverageAllowance.Capped(500),
        ProfessionalSeats = 2,
        AnalyzerSeats = 5,
        TimeZoneId = "Europe/Stockholm",
        AnonymousCapacity = true,
    };

    public static string Issue(LicenseTerms? terms = null) => new LicenseIssuer(VendorKey).Issue(terms ?? Terms());

    public static LicenseVerifier Verifier { get; } = new(PublicOnly(VendorKey));

    public static ECDsa PublicOnly(ECDsa key)
    {
        var publicKey = ECDsa.Create();
        publicKey.ImportSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo(), out _);
        return publicKey;
    }
}
