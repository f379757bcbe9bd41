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
    private List<StoredDecision>? _decisions;
    private List<StoredUnit>? _units;
    // Nearly every decision of a group is in the same period: its name is made once, not per decision.
    private Period _period;
    private string? _periodName;

    public List<DecisionOutcome> Outcomes { get; private set; } = [];
    public IReadOnlyList<StoredDecision> Decisions => _decisions ?? [];
    public IReadOnlyList<StoredUnit> Units => _units ?? [];
    public bool IsDuplicate { get; private set; }

    /// <summary>Starts the next event: the lists already handed out stay with their event; the next are made when needed.</summary>
    public void Begin()
    {
        Outcomes = new List<DecisionOutcome>(1);
        _decisions = null;
        _units = null;
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
        var period = PeriodName(d.Period);
        (_decisions ??= new List<StoredDecision>(1)).Add(new StoredDecision(d.Kind.ToWire(), d.Reason.ToWire(), user, app, period,
            d.UnitStartTicks, d.UnitEndTicks, d.RetryAfterTicks, d.Minutes));
        if (d.StartsUnit)
        {
            var (usage, allotment) = (state.Meter.TermsOf(d.User)?.Allocation ?? Allocation.Capacity).ToAllotment();
            // R14: a reload's unit keeps the engagement it is judged idle by. The sink runs inside Meter.Apply, so this is
            // the key's latest engagement before the reload; one dictionary read, and only for reload-started units.
            long? engaged = d.Action == MeterAction.ScheduledReload ? state.Meter.LastEngagementTicks(d.Key) : null;
            (_units ??= new List<StoredUnit>(1)).Add(new StoredUnit(0, user, state.DeviceName(e.Device), app, period, d.UnitStartTicks, d.UnitEndTicks,
                d.Minutes, usage, allotment, EngagedTicks: engaged));
        }
    }

    /// <summary>The period's name, made once while the group stays in one period.</summary>
    public string PeriodName(Period period)
    {
        if (_periodName is null || period != _period)
        {
            (_period, _periodName) = (period, period.ToString());
        }
        return _periodName;
    }
}
