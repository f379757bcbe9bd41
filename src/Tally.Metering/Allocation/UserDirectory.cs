using System.Diagnostics.CodeAnalysis;

namespace Tally.Metering;

/// <summary>
/// The R9 allocation rules as an <see cref="IUserDirectory"/>: explicit assignments, seat limits, precedence for
/// users seen for the first time, capacity eligibility, anonymous users and monthly caps.
/// </summary>
/// <remarks>
/// Precedence for a user without an explicit allocation: a free Professional seat when that auto-assign switch is
/// on, else a free Analyzer seat when that switch is on, else capacity when eligible, else
/// <see cref="Allocation.None"/> (the meter then denies <c>not-licensed</c>).
/// A user whose name starts with <see cref="AnonymousPrefix"/> is anonymous: never given a seat, drawing capacity only
/// when the license allows anonymous capacity, and implicitly a member of <see cref="AnonymousGroup"/>, so that group
/// rules (eligibility when capacity is limited to groups, and group caps) apply to anonymous users too.
/// Seats are handed out in the order users are resolved; the meter resolves in event order, so the outcome is a
/// function of the events. Resolving the same user again returns the same terms and takes no second seat.
/// Like the meter it serves, an instance is used by one thread at a time: give each meter its own directory.
/// </remarks>
public sealed class UserDirectory : IUserDirectory
{
    public const string AnonymousPrefix = "anon:";
    public const string AnonymousGroup = "anonymous";

    private readonly AllocationPlan _plan;
    private readonly SeatLicense _license;
    private readonly SymbolTable _users;
    private readonly Dictionary<string, UserAssignment> _rows;
    private readonly PlanCaps _caps;
    private readonly Dictionary<int, UserTerms> _resolved = [];
    private readonly List<SeatHolder> _autoAssigned = [];

    private UserDirectory(AllocationPlan plan, SeatLicense license, SymbolTable users, Dictionary<string, UserAssignment> rows)
    {
        _plan = plan;
        _license = license;
        _users = users;
        _rows = rows;
        _caps = new PlanCaps(plan, rows);
        ProfessionalSeatsUsed = rows.Values.Count(r => r.Allocation == Allocation.Professional);
        AnalyzerSeatsUsed = rows.Values.Count(r => r.Allocation == Allocation.Analyzer);
    }

    /// <summary>Seats taken so far: explicit assignments plus auto-assigned ones.</summary>
    public int ProfessionalSeatsUsed { get; private set; }

    public int AnalyzerSeatsUsed { get; private set; }

    public SeatLicense License => _license;

    /// <summary>Users this directory gave a seat by auto-assignment (no explicit allocation), in the order it did.</summary>
    public IReadOnlyList<SeatHolder> AutoAssigned => _autoAssigned;

    public static bool IsAnonymous(string user) => user.StartsWith(AnonymousPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Checks <paramref name="plan"/> against <paramref name="license"/> before any event is metered, so that an
    /// assignment list asking for more seats than licensed is refused up front rather than half-applied.
    /// </summary>
    /// <param name="plan">The administrator's rules.</param>
    /// <param name="license">Seat counts and the anonymous switch from the license.</param>
    /// <param name="users">The table the event parser interns user names into; the meter resolves by id.</param>
    public static UserDirectoryResult Create(AllocationPlan plan, SeatLicense license, SymbolTable users)
    {
        var errors = new List<AllocationError>();
        var rows = new Dictionary<string, UserAssignment>(StringComparer.Ordinal);
        foreach (var row in plan.Users)
        {
            if (string.IsNullOrEmpty(row.User))
            {
                errors.Add(new AllocationError(null, "a row has an empty user name"));
                continue;
            }
            if (!rows.TryAdd(row.User, row))
            {
                errors.Add(new AllocationError(row.User, "listed more than once"));
                continue;
            }
            if (row.Allocation == Allocation.None)
            {
                errors.Add(new AllocationError(row.User, "'none' is not an assignment; leave the user out instead"));
            }
            if (IsAnonymous(row.User) && row.Allocation is not null)
            {
                errors.Add(new AllocationError(row.User, $"anonymous users ('{AnonymousPrefix}…') cannot be assigned; they draw capacity only when the license allows it"));
            }
            if (row.CapMinutes is < 0)
            {
                errors.Add(new AllocationError(row.User, "a cap cannot be negative"));
            }
            if (row.CapMinutes is not null && row.Allocation is Allocation.Professional or Allocation.Analyzer)
            {
                errors.Add(new AllocationError(row.User, "a cap applies to capacity users only, not to a seat"));
            }
        }
        AddSeatError(errors, "Professional", rows.Values.Count(r => r.Allocation == Allocation.Professional), license.ProfessionalSeats);
        AddSeatError(errors, "Analyzer", rows.Values.Count(r => r.Allocation == Allocation.Analyzer), license.AnalyzerSeats);
        foreach (var (group, cap) in plan.GroupCapMinutes)
        {
            if (cap < 0)
            {
                errors.Add(new AllocationError(null, $"group '{group}': a cap cannot be negative"));
            }
        }
        if (plan.EveryoneCapMinutes is < 0)
        {
            errors.Add(new AllocationError(null, "the cap for everyone cannot be negative"));
        }
        return errors.Count > 0
            ? new UserDirectoryResult(null, errors)
            : new UserDirectoryResult(new UserDirectory(plan, license, users, rows), []);
    }

    private static void AddSeatError(List<AllocationError> errors, string kind, int assigned, int licensed)
    {
        if (assigned > licensed)
        {
            errors.Add(new AllocationError(null, $"{assigned} users are assigned {kind} seats but the license has {licensed}"));
        }
    }

    public UserTerms Resolve(int user)
    {
        if (_resolved.TryGetValue(user, out var known))
        {
            return known;
        }
        var terms = user == 0 ? new UserTerms(Allocation.None) : Decide(_users.NameOf(user));
        _resolved.Add(user, terms);
        return terms;
    }

    private UserTerms Decide(string name)
    {
        _rows.TryGetValue(name, out var row);
        var anonymous = IsAnonymous(name);
        var allocation = anonymous ? AnonymousAllocation() : row?.Allocation ?? FirstSeen(row);
        if (!anonymous && row?.Allocation is null && allocation is Allocation.Professional or Allocation.Analyzer)
        {
            _autoAssigned.Add(new SeatHolder(name, allocation));
        }
        if (allocation != Allocation.Capacity)
        {
            return new UserTerms(allocation);
        }
        return new UserTerms(allocation, _caps.For(row, anonymous));
    }

    /// <summary>Anonymous users hold no seat: capacity when the license allows it and their implicit group is eligible.</summary>
    private Allocation AnonymousAllocation() =>
        _license.AnonymousCapacity && (_plan.CapacityGroups.Count == 0 || _plan.CapacityGroups.Contains(AnonymousGroup))
            ? Allocation.Capacity
            : Allocation.None;

    /// <summary>R9 precedence for a user with no explicit allocation. Takes a seat when it hands one out.</summary>
    private Allocation FirstSeen(UserAssignment? row)
    {
        if (_plan.AutoAssignProfessional && ProfessionalSeatsUsed < _license.ProfessionalSeats)
        {
            ProfessionalSeatsUsed++;
            return Allocation.Professional;
        }
        if (_plan.AutoAssignAnalyzer && AnalyzerSeatsUsed < _license.AnalyzerSeats)
        {
            AnalyzerSeatsUsed++;
            return Allocation.Analyzer;
        }
        var eligible = _plan.CapacityGroups.Count == 0
            || (row is not null && row.Groups.Any(_plan.CapacityGroups.Contains));
        return eligible ? Allocation.Capacity : Allocation.None;
    }
}

/// <summary>A user holding a Professional or Analyzer seat.</summary>
public readonly record struct SeatHolder(string User, Allocation Seat);

/// <summary>Either a usable directory or every reason the plan does not fit the license.</summary>
public sealed record UserDirectoryResult(UserDirectory? Directory, IReadOnlyList<AllocationError> Errors)
{
    [MemberNotNullWhen(true, nameof(Directory))]
    public bool IsValid => Directory is not null;
}
