namespace Tally.Metering;

/// <summary>
/// One user's row of an allocation plan (R9). A null <see cref="Allocation"/> means "no explicit assignment":
/// the user gets the precedence rule (auto-assigned seat, else capacity if eligible) but keeps their groups and cap.
/// </summary>
/// <param name="User">The user name exactly as events carry it.</param>
/// <param name="Allocation">Professional, Analyzer or Capacity when assigned explicitly; never <see cref="Metering.Allocation.None"/>.</param>
/// <param name="Groups">Groups the user belongs to: they decide capacity eligibility and group caps.</param>
/// <param name="CapMinutes">The user's own monthly cap in minutes, or null.</param>
public sealed record UserAssignment(string User, Allocation? Allocation, IReadOnlyList<string> Groups, long? CapMinutes = null)
{
    public UserAssignment(string user, Allocation? allocation = null)
        : this(user, allocation, [], null)
    {
    }
}

/// <summary>
/// The administrator's allocation rules, before they are checked against a license's seat counts
/// (<see cref="UserDirectory.Create"/> does that).
/// </summary>
public sealed record AllocationPlan
{
    public static AllocationPlan Empty { get; } = new();

    /// <summary>Explicit rows, one per user.</summary>
    public IReadOnlyList<UserAssignment> Users { get; init; } = [];

    /// <summary>
    /// Groups whose members may draw capacity. Empty means everyone may (the common case: capacity is the
    /// fallback for whoever has no seat).
    /// </summary>
    public IReadOnlySet<string> CapacityGroups { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Monthly cap per group in minutes; it limits each member's own consumption, not the group's sum.</summary>
    public IReadOnlyDictionary<string, long> GroupCapMinutes { get; init; } = new Dictionary<string, long>(StringComparer.Ordinal);

    /// <summary>A cap every capacity user gets, on top of any other cap (the smallest wins).</summary>
    public long? EveryoneCapMinutes { get; init; }

    /// <summary>Give a free Professional seat to a user seen for the first time.</summary>
    public bool AutoAssignProfessional { get; init; }

    /// <summary>Give a free Analyzer seat to a user seen for the first time (after Professional, R9).</summary>
    public bool AutoAssignAnalyzer { get; init; }
}

/// <summary>What a license grants to allocation: seat counts and whether anonymous users may draw capacity.</summary>
public readonly record struct SeatLicense(int ProfessionalSeats, int AnalyzerSeats, bool AnonymousCapacity)
{
    /// <summary>No seats, anonymous users refused: everyone who is eligible draws capacity.</summary>
    public static SeatLicense CapacityOnly => new(0, 0, false);

    /// <summary>No license to enforce (metering a log without one): any number of seats, anonymous users allowed.</summary>
    public static SeatLicense Unlimited => new(int.MaxValue, int.MaxValue, true);
}

/// <summary>One reason a plan cannot be used with a license; <see cref="User"/> is null for plan-wide problems.</summary>
public sealed record AllocationError(string? User, string Reason)
{
    public override string ToString() => User is null ? Reason : $"{User}: {Reason}";
}
