using System.Diagnostics.Metrics;
using Tally.Server;

namespace Tally.Cluster;

/// <summary>The cluster as this node sees it: its own status and the membership table's view, for /health and /metrics.</summary>
internal sealed class ClusterStatus(IClusterMembershipService membership, ILocalSiloDetails local, Tenants tenants) : IClusterStatus
{
    public ClusterHealth Health()
    {
        var snapshot = membership.CurrentSnapshot;
        var self = snapshot.GetSiloStatus(local.SiloAddress);
        var members = snapshot.Members.Values
            .Where(m => m.Status is SiloStatus.Active or SiloStatus.Joining or SiloStatus.ShuttingDown or SiloStatus.Stopping)
            .OrderBy(m => m.SiloAddress.ToParsableString(), StringComparer.Ordinal)
            .Select(m => new Tally.Contract.ClusterMember(m.SiloAddress.ToParsableString(), m.Name, Wire(m.Status)))
            .ToList();
        return new ClusterHealth(local.SiloAddress.ToParsableString(), Wire(self), members, tenants.Count);
    }

    internal static string Wire(SiloStatus status) => status switch
    {
        SiloStatus.Active => "active",
        SiloStatus.Joining or SiloStatus.Created => "joining",
        SiloStatus.ShuttingDown or SiloStatus.Stopping => "shutting-down",
        SiloStatus.Dead => "dead",
        _ => "unknown",
    };
}

/// <summary>
/// The cluster's figures at /metrics: the nodes by status as this node sees them, the tenants it owns, and the requests
/// it forwarded to owners by outcome. Orleans' own instruments (grain activations, messaging) are exported beside them.
/// </summary>
internal sealed class ClusterMetrics
{
    private readonly Counter<long> _forwarded;

    public ClusterMetrics(IMeterFactory factory, IServiceProvider services)
    {
        var meter = factory.Create(TallyMetrics.MeterName);
        _forwarded = meter.CreateCounter<long>("tally.cluster.forwarded", "{request}", "Tenant requests this node handed to the tenant's grain, by outcome.");
        meter.CreateObservableGauge("tally.cluster.nodes", () => Nodes(services), "{node}", "Nodes in the membership table as this node sees them, by status.");
        meter.CreateObservableGauge("tally.cluster.tenants_owned", () => ((Tenants)services.GetService(typeof(Tenants))!).Count, "{tenant}",
            "Tenants whose grain (meter and group commit) is on this node.");
    }

    public void Forwarded(bool ok) => _forwarded.Add(1, new KeyValuePair<string, object?>("outcome", ok ? "ok" : "unavailable"));

    private static IEnumerable<Measurement<int>> Nodes(IServiceProvider services)
    {
        var snapshot = ((IClusterMembershipService)services.GetService(typeof(IClusterMembershipService))!).CurrentSnapshot;
        return snapshot.Members.Values.GroupBy(m => ClusterStatus.Wire(m.Status))
            .Select(g => new Measurement<int>(g.Count(), new KeyValuePair<string, object?>("status", g.Key)));
    }
}
