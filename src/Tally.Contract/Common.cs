namespace Tally.Contract;

/// <summary><c>GET /health/live</c> and <c>/health/ready</c>: live or ready, and on a cluster node the cluster as it sees it.</summary>
public sealed record HealthStatus(string Status, ClusterHealth? Cluster = null);

/// <summary>
/// A cluster node's view of the cluster (<c>tally serve --cluster</c>): this node, its membership status (<c>active</c>
/// once it has joined), the nodes the membership table lists as active, and how many tenants' meters it owns now.
/// </summary>
public sealed record ClusterHealth(string Node, string Status, IReadOnlyList<ClusterMember> Members, int TenantsOwned);

/// <summary>One node in the membership table: its silo address (ip:port@generation), its name and its status (joining, active, shutting-down, dead).</summary>
public sealed record ClusterMember(string Node, string Name, string Status);

/// <summary>
/// Every error answer of Tally's own routes (RFC 9457 problem+json): what a client reads to say what went wrong.
/// Some carry more members (<c>index</c>, <c>field</c>, <c>reason</c>), documented per route in docs/api.md.
/// </summary>
public sealed record ApiProblem(string? Type, string? Title, int? Status, string? Detail);
