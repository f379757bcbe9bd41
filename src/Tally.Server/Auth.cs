using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Marks an endpoint that needs a key with one of <paramref name="Roles"/>: the OpenAPI document says so (<see cref="OpenApiSecurity"/>).</summary>
public sealed record ApiKeyRequired(IReadOnlyList<ApiRole> Roles);

/// <summary>
/// Bearer API keys (or a dashboard session cookie on GETs): no or unknown key is 401, a key of the wrong role is 403, and
/// past a client's allowance of failed attempts (<see cref="FailedAuthLimiter"/>) an unknown key is 429.
/// </summary>
public static class Auth
{
    private const string CallerItem = "tally.caller";

    /// <summary>Lets through only callers whose key has one of <paramref name="roles"/>.</summary>
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, params ApiRole[] roles) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ApiKeyRequired(roles)).AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var header = http.Request.Headers.Authorization.ToString();
            // A request the owner of its tenant serves for another node was authenticated there (TenantRouting).
            var caller = http.Features.Get<OwnerRequest>()?.Caller ?? Presented(http);
            if (caller is null)
            {
                // A key that was sent and did not authenticate draws on the client's allowance of failures; no
                // credentials at all, or a dashboard cookie that has ended, is not a guess at a key.
                if (header.Length > 0 && http.RequestServices.GetRequiredService<FailedAuthLimiter>().Failed(http) is { } tooMany)
                {
                    return tooMany;
                }
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return Problems.Status(StatusCodes.Status401Unauthorized, "Unauthorized", "Send a valid API key as 'Authorization: Bearer KEY'.");
            }
            if (!roles.Contains(caller.Role))
            {
                return Problems.Status(StatusCodes.Status403Forbidden, "Forbidden",
                    $"This endpoint needs a key with role {string.Join(" or ", roles.Select(r => r.ToWire()))}; this key is '{caller.Role.ToWire()}'.");
            }
            http.Items[CallerItem] = caller;
            return await next(context).ConfigureAwait(false);
        });

    /// <summary>
    /// The caller the request's credentials stand for, or null: a bearer key, or without one a dashboard session cookie
    /// (which stands in for a read or admin key on GETs). Counts nothing; the role filter answers the failures.
    /// </summary>
    public static Caller? Presented(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? http.RequestServices.GetRequiredService<ApiKeys>().Resolve(header[7..].Trim())
            : header.Length == 0 ? Dashboard.DashboardSessions.FromCookie(http) : null;
    }

    public static Caller Caller(this HttpContext http) => (Caller)http.Items[CallerItem]!;

    /// <summary>The caller's tenant; the role filter guarantees tenant roles have one.</summary>
    public static string Tenant(this HttpContext http) => http.Caller().Tenant!;
}
