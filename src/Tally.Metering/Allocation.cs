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
