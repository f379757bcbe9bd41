namespace Tally.Metering;

/// <summary>
/// The monthly cap rule of R9, written once: a capacity user's cap is the smallest of their own cap, each of their
/// groups' caps and the cap for everyone; an anonymous user is also in <see cref="UserDirectory.AnonymousGroup"/>.
/// The meter's <see cref="UserDirectory"/> applies it and the users report shows it, both through this class. Immutable,
/// so an instance is shared by the writer and any number of request threads.
/// </summary>
public sealed class PlanCaps
{
    private readonly AllocationPlan _plan;
    private readonly IReadOnlyDictionary<string, UserAssignment> _rows;

    /// <summary>The caps of <paramref name="plan"/>; a user listed twice (a plan the directory refuses) counts once, first row first.</summary>
    public PlanCaps(AllocationPlan plan)
        : this(plan, RowsByName(plan))
    {
    }

    internal PlanCaps(AllocationPlan plan, IReadOnlyDictionary<string, UserAssignment> rows) => (_plan, _rows) = (plan, rows);

    /// <summary>The cap on <paramref name="user"/>'s minutes this month, or null when nothing caps them.</summary>
    public long? For(string user) => For(_rows.GetValueOrDefault(user), UserDirectory.IsAnonymous(user));

    internal long? For(UserAssignment? row, bool anonymous)
    {
        var cap = Smallest(row?.CapMinutes, _plan.EveryoneCapMinutes);
        foreach (var group in row?.Groups ?? [])
        {
            cap = Smallest(cap, GroupCap(group));
        }
        return anonymous ? Smallest(cap, GroupCap(UserDirectory.AnonymousGroup)) : cap;
    }

    private long? GroupCap(string group) => _plan.GroupCapMinutes.TryGetValue(group, out var cap) ? cap : null;

    private static long? Smallest(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static Dictionary<string, UserAssignment> RowsByName(AllocationPlan plan)
    {
        var rows = new Dictionary<string, UserAssignment>(StringComparer.Ordinal);
        foreach (var row in plan.Users)
        {
            rows.TryAdd(row.User, row);
        }
        return rows;
    }
}
