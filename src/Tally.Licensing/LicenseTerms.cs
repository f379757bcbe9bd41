using Tally.Metering;

namespace Tally.Licensing;

/// <summary>
/// What a license grants. Immutable; <see cref="Validate"/> states the bounds a usable license keeps, and
/// verification refuses a key whose terms break them (<see cref="LicenseFailure.InvalidTerms"/>).
/// </summary>
public sealed record LicenseTerms
{
    public const string DefaultTimeZoneId = "UTC";

    public required string LicenseId { get; init; }

    public required string Customer { get; init; }

    /// <summary>When the vendor issued the key; informational.</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>Start of the validity window, inclusive.</summary>
    public required DateTimeOffset ValidFrom { get; init; }

    /// <summary>End of the validity window, exclusive: at exactly this instant the license has expired.</summary>
    public required DateTimeOffset ValidTo { get; init; }

    public CountingMode Mode { get; init; } = CountingMode.Device;

    public int UnitMinutes { get; init; } = MeterOptions.DefaultUnitMinutes;

    /// <summary>Analyzer-capacity packs; 0 is a seats-only license.</summary>
    public required int Packs { get; init; }

    public int PackMinutes { get; init; } = MeterOptions.DefaultPackMinutes;

    public OverageAllowance Overage { get; init; } = OverageAllowance.None;

    public int ProfessionalSeats { get; init; }

    public int AnalyzerSeats { get; init; }

    /// <summary>IANA zone whose calendar months are the billing periods.</summary>
    public string TimeZoneId { get; init; } = DefaultTimeZoneId;

    /// <summary>Whether anonymous users may draw capacity.</summary>
    public bool AnonymousCapacity { get; init; }

    public long IncludedMinutes => (long)Packs * PackMinutes;

    /// <summary>True when <paramref name="now"/> lies in <c>[ValidFrom, ValidTo)</c>.</summary>
    public bool IsValidAt(DateTimeOffset now) => now >= ValidFrom && now < ValidTo;

    /// <summary>Returns the first problem with these terms, or null when they are usable.</summary>
    public string? Validate() =>
        string.IsNullOrWhiteSpace(LicenseId) || LicenseId.Length > 128 ? "license id must be 1 to 128 characters"
        : string.IsNullOrWhiteSpace(Customer) || Customer.Length > 256 ? "customer must be 1 to 256 characters"
        : ValidFrom >= ValidTo ? "valid-from must be before valid-to"
        : UnitMinutes is < 1 or > 1440 ? "unit minutes must be between 1 and 1440"
        : Packs < 0 ? "packs cannot be negative"
        : PackMinutes < 1 ? "pack minutes must be at least 1"
        : Overage.Kind == OverageKind.Capped && Overage.CapMinutes < 0 ? "overage cannot be negative"
        : ProfessionalSeats < 0 ? "professional seats cannot be negative"
        : AnalyzerSeats < 0 ? "analyzer seats cannot be negative"
        : !Enum.IsDefined(Mode) ? "mode must be device or app"
        : !TimeZoneInfo.TryFindSystemTimeZoneById(TimeZoneId, out _) ? $"unknown time zone '{TimeZoneId}'"
        : null;

    /// <summary>The meter's options for these terms. Call on validated terms (a verified key's are).</summary>
    /// <exception cref="TimeZoneNotFoundException">The zone is not known on this machine (terms not validated).</exception>
    public MeterOptions ToMeterOptions() => new()
    {
        Mode = Mode,
        UnitMinutes = UnitMinutes,
        Pool = PoolTerms.FromPacks(Packs, PackMinutes, Overage),
        TimeZone = TimeZoneInfo.FindSystemTimeZoneById(TimeZoneId),
        Validity = new ValidityWindow(ValidFrom.UtcTicks, ValidTo.UtcTicks),
    };

    /// <summary>What allocation (R9) needs from the license.</summary>
    public SeatLicense ToSeatLicense() => new(ProfessionalSeats, AnalyzerSeats, AnonymousCapacity);

    /// <summary>
    /// The R9 directory for these terms: checks <paramref name="plan"/> against the licensed seats before metering.
    /// </summary>
    /// <param name="plan">Usually <see cref="UsersFile.Parse"/>'s result; <see cref="AllocationPlan.Empty"/> without a users file.</param>
    /// <param name="users">The symbol table the event reader interns user names into.</param>
    public UserDirectoryResult CreateUserDirectory(AllocationPlan plan, SymbolTable users) =>
        UserDirectory.Create(plan, ToSeatLicense(), users);
}
