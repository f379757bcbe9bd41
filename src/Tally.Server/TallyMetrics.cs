using System.Diagnostics.Metrics;
using Tally.Metering;

namespace Tally.Server;

/// <summary>
/// Tally's own instruments, exported in Prometheus format at <c>/metrics</c> next to ASP.NET Core's request
/// duration histogram: decisions by kind and reason, failed authentications, and each tenant's current pool.
/// </summary>
public sealed class TallyMetrics
{
    public const string MeterName = "Tally.Server";

    private readonly Counter<long> _decisions;
    private readonly Counter<long> _commits;
    private readonly Counter<long> _authFailures;
    private readonly System.Diagnostics.Metrics.Meter _meter;

    public TallyMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _decisions = _meter.CreateCounter<long>("tally.decisions", "{decision}", "Decisions made, by decision and deny reason.");
        _commits = _meter.CreateCounter<long>("tally.ledger.commits", "{commit}", "Group commits of the ledger, by outcome.");
        _authFailures = _meter.CreateCounter<long>("tally.auth.failures", "{request}",
            "Requests whose key did not authenticate: answered 401 (unauthorized) or, past the client's allowance, 429 (limited).");
    }

    /// <summary>
    /// Counts a committed group's decisions: one measurement per (decision, reason) it holds rather than one per
    /// decision, as each measurement looks its tags up (a group of 1,000 covered events is one).
    /// </summary>
    public void Decisions(IEnumerable<DecisionOutcome> decisions)
    {
        foreach (var group in decisions.CountBy(d => (d.Kind, d.Reason)))
        {
            _decisions.Add(group.Value, new KeyValuePair<string, object?>("decision", group.Key.Kind.ToWire()),
                new KeyValuePair<string, object?>("reason", group.Key.Reason.ToWire() ?? "none"));
        }
    }

    public void Commit(bool ok) => _commits.Add(1, new KeyValuePair<string, object?>("outcome", ok ? "ok" : "failed"));

    public void AuthFailure(bool limited) => _authFailures.Add(1, new KeyValuePair<string, object?>("outcome", limited ? "limited" : "unauthorized"));

    /// <summary>Observes every tenant's pool of its latest period.</summary>
    public void ObservePools(Func<IEnumerable<TenantWriter>> writers)
    {
        _meter.CreateObservableGauge("tally.pool.consumed", () => Pools(writers, p => p.ConsumedMinutes), "min", "Minutes consumed in the tenant's current period.");
        _meter.CreateObservableGauge("tally.pool.limit", () => Pools(writers, p => p.LimitMinutes ?? -1), "min", "The period's limit in minutes (-1: no pool).");
    }

    private static IEnumerable<Measurement<long>> Pools(Func<IEnumerable<TenantWriter>> writers, Func<PoolUsage, long> value) =>
        writers().Where(w => w.Snapshot.CurrentPool is not null)
            .Select(w => new Measurement<long>(value(w.Snapshot.CurrentPool!.Value), new KeyValuePair<string, object?>("tenant", w.Tenant)));
}
