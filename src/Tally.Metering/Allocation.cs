namespace Tally.Metering;

/// <summary>How a user is licensed (R9).</summary>
public enum Allocation : byte
{
    /// <summary>Draws from the shared minute pool.</summary>
    Capacity,
    /// <summary>A Professional seat: metered for reporting at 0 pool minutes; may author (R4).</summary>
    Professional,
    /// <summary>An Analyzer seat: metered for reporting at 0 pool minutes.</summary>
    Analyzer,
    /// <summary>No seat and not eligible for capacity: denied <c>not-licensed</c>.</summary>
    None,
}

public static class AllocationNames
{
    public static string ToWire(this Allocation allocation) => allocation switch
    {
        Allocation.Capacity => "capacity",
        Allocation.Professional => "professional",
        Allocation.Analyzer => "analyzer",
        _ => "none",
    };

    /// <summary>The allocation a wire name names (<c>professional</c>, <c>analyzer</c>, <c>capacity</c>); <see cref="Allocation.None"/> for any other text.</summary>
    public static Allocation FromWire(string? name) => name switch
    {
        "capacity" => Allocation.Capacity,
        "professional" => Allocation.Professional,
        "analyzer" => Allocation.Analyzer,
        _ => Allocation.None,
    };

    /// <summary>A named seat (Professional or Analyzer): never draws from the pool.</summary>
    public static bool IsSeat(this Allocation allocation) => allocation is Allocation.Professional or Allocation.Analyzer;

    /// <summary>
    /// How a unit of this allocation is recorded, in Qlik's terms (the ledger's unit rows and Qlik's consumption
    /// records): a seat's 0-minute record is <c>assigned</c> to its allotment, a capacity unit is <c>time</c> drawn
    /// from <c>analyzer_time</c>.
    /// </summary>
    public static (string LicenseUsage, string Allotment) ToAllotment(this Allocation allocation) => allocation switch
    {
        Allocation.Professional => ("assigned", "professional"),
        Allocation.Analyzer => ("assigned", "analyzer"),
        _ => ("time", "analyzer_time"),
    };

    /// <summary>The allocation a recorded unit's allotment stands for; null for no allotment (a user without units).</summary>
    public static Allocation? FromAllotment(string? allotment) => allotment switch
    {
        "analyzer_time" => Allocation.Capacity,
        "analyzer" => Allocation.Analyzer,
        "professional" => Allocation.Professional,
        _ => null,
    };
}

/// <summary>What the meter needs to know about a user: their allocation and monthly cap (R9).</summary>
/// <param name="Allocation">Seat, capacity or none.</param>
/// <param name="CapMinutes">Monthly minute cap for a capacity user, or null for no cap.</param>
public readonly record struct UserTerms(Allocation Allocation, long? CapMinutes = null)
{
    public static UserTerms Capacity => new(Allocation.Capacity);

    public bool IsNamed => Allocation is Allocation.Professional or Allocation.Analyzer;
}

/// <summary>
/// Decides a user's terms the first time the meter sees them (R9 precedence lives behind this). Called in event
/// order, once per user, so an implementation may hand out seats as users appear and stay deterministic.
/// </summary>
public interface IUserDirectory
{
    UserTerms Resolve(int user);
}

/// <summary>Without a license or an allocation file, everyone draws from capacity with no cap.</summary>
public sealed class EveryoneCapacity : IUserDirectory
{
    public static EveryoneCapacity Instance { get; } = new();

    public UserTerms Resolve(int user) => UserTerms.Capacity;
}
