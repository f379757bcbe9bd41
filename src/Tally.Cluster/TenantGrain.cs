using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Tally.Server;

namespace Tally.Cluster;

/// <summary>A tenant, keyed by its id: the one place in the cluster its requests are served and its meter is written.</summary>
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>Serves one of the tenant's requests on the node that owns it.</summary>
    Task<ForwardedResponse> HandleAsync(ForwardedRequest request);

    /// <summary>Nothing but activation: the tenant gets an owner, which runs its background work (its sources' pulls).</summary>
    Task WakeAsync();
}

/// <summary>
/// The owner of a tenant. Its activation takes the tenant's writer on this node (<see cref="Tenants.Own"/>: the claim that
/// fences any earlier owner, then the replay of the ledger), and its deactivation lets the writer go once what it holds is
/// committed. Reentrant: the requests of a busy tenant must reach its writer together, for the group commit to gather
/// them, and each runs on the thread pool like any request, not on the activation's scheduler.
/// </summary>
[Reentrant]
internal sealed class TenantGrain(Tenants tenants, OwnerDispatch dispatch, ILogger<TenantGrain> log) : Grain, ITenantGrain
{
    private string Tenant => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // The replay can take seconds for a large tenant: off the activation's scheduler.
        var writer = await Task.Run(() => tenants.Own(Tenant), cancellationToken);
        log.LogInformation("This node now owns tenant {Tenant} (ledger epoch {Epoch})", Tenant, writer.Claim.Epoch);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await tenants.ReleaseAsync(Tenant);
        log.LogInformation("This node let tenant {Tenant} go: {Reason}", Tenant, reason.Description);
    }

    public Task<ForwardedResponse> HandleAsync(ForwardedRequest request)
    {
        if (!tenants.Serves(Tenant))
        {
            // The writer was fenced: another activation claimed the tenant. This one goes, and the request is answered
            // 503 by the endpoint (TenantElsewhereException) so the client's retry finds the current owner.
            DeactivateOnIdle();
        }
        return Task.Run(() => dispatch.ServeAsync(request));
    }

    public Task WakeAsync() => Task.CompletedTask;
}
