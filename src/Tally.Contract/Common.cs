namespace Tally.Contract;

/// <summary><c>GET /health/live</c> and <c>/health/ready</c>: live or ready.</summary>
public sealed record HealthStatus(string Status);

/// <summary>
/// Every error answer of Tally's own routes (RFC 9457 problem+json): what a client reads to say what went wrong.
/// Some carry more members (<c>index</c>, <c>field</c>, <c>reason</c>), documented per route in docs/api.md.
/// </summary>
public sealed record ApiProblem(string? Type, string? Title, int? Status, string? Detail);
