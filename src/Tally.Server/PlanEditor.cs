using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary>The plan after an edit, and whether the edit changed (and so saved) it.</summary>
public sealed record SavedPlan(AllocationPlanDto Plan, bool Changed);

/// <summary>
/// The one way a tenant's allocation plan changes (Tally's allocation routes and Qlik's assignment and settings
/// routes alike): read, edit, check against the license, save and put in force, under the tenant's plan lock, so
/// that concurrent edits never lose one another and what one API changes the other shows at once.
/// </summary>
public sealed class PlanEditor(Tenants tenants, ITenantCatalog store, TimeProvider time)
{
    /// <summary>
    /// Applies <paramref name="edit"/> to the current plan: the plan as saved (or as it was, when <paramref name="edit"/>
    /// returned null: nothing to change), or a 400 naming every reason the edited plan does not fit the license.
    /// </summary>
    public async Task<Outcome<SavedPlan, ProblemHttpResult>> SaveAsync(string tenant, Func<AllocationPlanDto, AllocationPlanDto?> edit)
    {
        var outcome = await EditAsync<object?>(tenant, current => (edit(current), null)).ConfigureAwait(false);
        return outcome.IsOk ? outcome.Value.Plan : outcome.Error;
    }

    /// <summary>
    /// Like <see cref="SaveAsync"/> for an edit that also computes a result (e.g. a status per item); the plan is saved
    /// only when the edit returns one.
    /// </summary>
    public async Task<Outcome<(SavedPlan Plan, T Result), ProblemHttpResult>> EditAsync<T>(string tenant, Func<AllocationPlanDto, (AllocationPlanDto? Plan, T Result)> edit)
    {
        var writer = tenants.Writer(tenant);
        await writer.PlanEdits.WaitAsync().ConfigureAwait(false);
        try
        {
            var current = writer.Snapshot.Config.Plan;
            var (next, result) = edit(current);
            if (next is null)
            {
                return (new SavedPlan(current, Changed: false), result);
            }
            next = StampSeats(next, current, time.GetUtcNow());
            if (Check(next, writer.Snapshot.Config.Seats) is { } problem)
            {
                return problem;
            }
            store.SetPlan(tenant, JsonSerializer.Serialize(next, AllocationPlans.Json), time.GetUtcNow());
            await writer.ReconfigureAsync().ConfigureAwait(false);
            return (new SavedPlan(next, Changed: true), result);
        }
        finally
        {
            writer.PlanEdits.Release();
        }
    }

    /// <summary>Whether the tenant observes a source (R13): its seats are assigned in that source, not by Qlik's assignment actions here.</summary>
    public bool Observing(string tenant) => tenants.Writer(tenant).Observing;

    /// <summary>Who holds a seat now and how many of each the license grants (for edits that hand out seats).</summary>
    public (IReadOnlyList<SeatAssignment> Seats, SeatLicense Licensed) SeatsOf(string tenant)
    {
        var snapshot = tenants.Writer(tenant).Snapshot;
        return (snapshot.Seats, snapshot.Config.Seats);
    }

    /// <summary>The reasons <paramref name="plan"/> cannot govern a meter under <paramref name="seats"/>, as a 400; null when it can.</summary>
    public static ProblemHttpResult? Check(AllocationPlanDto plan, SeatLicense seats)
    {
        if (BadText(plan) is { } badText)
        {
            return badText;
        }
        var core = plan.ToPlan();
        if (!core.IsOk)
        {
            return Problems.BadRequest(core.Error);
        }
        var checkedPlan = UserDirectory.Create(core.Value, seats, new SymbolTable());
        return checkedPlan.IsValid
            ? null
            : Problems.BadRequest(string.Join("; ", checkedPlan.Errors), new Dictionary<string, object?> { ["errors"] = checkedPlan.Errors.Select(e => e.ToString()).ToArray() });
    }

    /// <summary>
    /// The first user or group name that breaks the text rule (R12), as a 400 naming where. Checked here, where a plan
    /// is edited, not when a stored plan is read: a plan saved before the rule still governs as it was saved.
    /// </summary>
    private static ProblemHttpResult? BadText(AllocationPlanDto plan)
    {
        var users = plan.Users ?? [];
        for (var i = 0; i < users.Count; i++)
        {
            if (Problems.BadText($"users[{i}].user", users[i]?.User) is { } badUser)
            {
                return badUser;
            }
            var groups = users[i]?.Groups ?? [];
            for (var j = 0; j < groups.Count; j++)
            {
                if (Problems.BadText($"users[{i}].groups[{j}]", groups[j]) is { } badGroup)
                {
                    return badGroup;
                }
            }
        }
        var capacityGroups = plan.CapacityGroups ?? [];
        for (var k = 0; k < capacityGroups.Count; k++)
        {
            if (Problems.BadText($"capacityGroups[{k}]", capacityGroups[k]) is { } bad)
            {
                return bad;
            }
        }
        foreach (var group in (plan.GroupCapMinutes ?? new Dictionary<string, long>()).Keys)
        {
            if (Problems.BadText("groupCapMinutes", group) is { } bad)
            {
                return bad;
            }
        }
        return null;
    }

    /// <summary>
    /// Dates each seat row: a seat the user already held keeps its date, a new or changed one dates from now, and rows
    /// without a seat carry none. Whatever the caller sent for the date is ignored.
    /// </summary>
    private static AllocationPlanDto StampSeats(AllocationPlanDto next, AllocationPlanDto current, DateTimeOffset now)
    {
        var before = new Dictionary<string, UserPlanDto>(StringComparer.Ordinal);
        foreach (var row in current.Users)
        {
            before.TryAdd(row.User, row);
        }
        return next with
        {
            Users = [.. (next.Users ?? []).Select(row => row is null ? row! : row with
            {
                Assigned = !AllocationNames.FromWire(row.Allocation).IsSeat() ? null
                    : before.TryGetValue(row.User ?? "", out var old) && old.Allocation == row.Allocation && old.Assigned is { } since ? since : now,
            })],
        };
    }
}
