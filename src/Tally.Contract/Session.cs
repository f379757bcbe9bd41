namespace Tally.Contract;

/// <summary><c>POST /dashboard/session</c>: a read or admin key.</summary>
public sealed record SignInRequest(string? Key);

/// <summary>The answer to signing in: as which tenant and role.</summary>
public sealed record SignedIn(string Tenant, string Role);

/// <summary>The answer of <c>GET /dashboard/session</c>: signed in or not, and when signed in, as whom and the server's "now".</summary>
public sealed record SessionState(bool SignedIn, string? Tenant = null, string? Role = null, DateTimeOffset? Now = null);
