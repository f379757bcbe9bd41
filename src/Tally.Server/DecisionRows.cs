using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// Turns one event's decisions into what leaves the meter: the outcomes the caller is answered with, and the decision
/// and unit rows the ledger records (a unit row for each decision that opened a unit, <see cref="Decision.StartsUnit"/>,
/// named by its allotment, <see cref="AllocationNames.ToAllotment"/>). A duplicate yields an outcome and no rows.
/// </summary>
internal sealed class DecisionRows(TenantState state) : IDecisionSink
{
    public List<DecisionOutcome> Outcomes { get; private set; } = [];
    public List<StoredDecision> Decisions { get; private set; } = [];
    public List<StoredUnit> Units { get; private set; } = [];
    public bool IsDuplicate { get; private set; }

    /// <summary>Starts the next event: the lists already handed out stay with their event.</summary>
    public void Begin()
    {
        Outcomes = [];
        Decisions = [];
        Units = [];
        IsDuplicate = false;
    }

    public void Add(in MeterEvent e, in Decision d)
    {
        var user = state.UserName(d.User);
        var app = state.AppName(d.App);
        Outcomes.Add(new DecisionOutcome(user, d.Kind, d.Reason, d.UnitStartTicks, d.UnitEndTicks, d.RetryAfterTicks, d.Minutes));
        if (d.Kind == DecisionKind.Duplicate)
        {
            IsDuplicate = true;
            return;
        }
        Decisions.Add(new StoredDecision(d.Kind.ToWire(), d.Reason.ToWire(), user, app, d.Period.ToString(),
            d.UnitStartTicks, d.UnitEndTicks, d.RetryAfterTicks, d.Minutes));
        if (d.StartsUnit)
        {
            var (usage, allotment) = (state.Meter.TermsOf(d.User)?.Allocation ?? Allocation.Capacity).ToAllotment();
            Units.Add(new StoredUnit(0, user, state.DeviceName(e.Device), app, d.Period.ToString(), d.UnitStartTicks, d.UnitEndTicks, d.Minutes,
                usage, allotment));
        }
    }
}
