using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Tally.Server;

/// <summary>
/// Where a tenant's requests are served in a cluster (<c>tally serve --cluster</c>): at the node whose grain owns the
/// tenant's meter. A single node has no router and serves every tenant itself.
/// </summary>
public interface ITenantRouter
{
    /// <summary>Has the request served by the owner of <paramref name="caller"/>'s tenant and writes its answer to <paramref name="http"/>.</summary>
    Task ForwardAsync(HttpContext http, Caller caller);

    /// <summary>Activates the tenant's grain if it is not active anywhere (so its owner runs its background work, such as pulls); returns at once.</summary>
    void Wake(string tenant);
}

/// <summary>
/// Marks a request the owner of its tenant serves on behalf of the node that received it. The caller was
/// authenticated there; this feature is set in-process by the cluster only, never from anything a client sends.
/// </summary>
public sealed record OwnerRequest(Caller Caller);

/// <summary>The cluster, as the health endpoint and the metrics report it; registered by the cluster only.</summary>
public interface IClusterStatus
{
    ClusterHealth Health();
}

/// <summary>
/// A tenant's request reached a node that does not own the tenant (its grain moved, or is moving, to another node).
/// Nothing was applied: the client retries, and the retry finds the owner.
/// </summary>
public sealed class TenantElsewhereException(string tenant)
    : Exception($"Tenant {tenant}'s meter is not on this node (it moved, or is moving, to another node). Nothing was applied; retry with the same ids.")
{
    public string Tenant { get; } = tenant;
}

public static class TenantRouting
{
    /// <summary>
    /// In a cluster, hands every API request of a tenant's caller to the owner of the tenant (the tenant's grain), before
    /// anything else here looks at it. Requests without a tenant (bootstrap administration, health, metrics, the
    /// dashboard's files and sign-in) are served where they arrive, as are requests the owner serves for another node.
    /// An unknown key is served here too: it names no tenant, and Auth answers (and counts) it.
    /// </summary>
    public static void UseTenantRouting(this WebApplication app)
    {
        if (app.Services.GetService<ITenantRouter>() is not { } router)
        {
            return;
        }
        app.Use(async (http, next) =>
        {
            if (http.Features.Get<OwnerRequest>() is null && http.Request.Path.StartsWithSegments("/api") && Auth.Presented(http) is { Tenant: not null } caller)
            {
                await router.ForwardAsync(http, caller).ConfigureAwait(false);
                return;
            }
            await next(http).ConfigureAwait(false);
        });
    }

    /// <summary>A request that reached a node its tenant is not on is a 503 to retry, not a failure of the server.</summary>
    internal sealed class ElsewhereHandler : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellation)
        {
            // A writer let go while the request was on its way to it (its grain deactivated) is the same case.
            var detail = exception switch
            {
                TenantElsewhereException elsewhere => elsewhere.Message,
                ObjectDisposedException { ObjectName: nameof(TenantWriter) } => "This tenant's meter was just handed to another node. Nothing was applied; retry with the same ids.",
                _ => null,
            };
            if (detail is null)
            {
                return false;
            }
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            http.Response.Headers.RetryAfter = "1";
            await Problems.Status(StatusCodes.Status503ServiceUnavailable, "Tenant moving", detail).ExecuteAsync(http).ConfigureAwait(false);
            return true;
        }
    }
}
