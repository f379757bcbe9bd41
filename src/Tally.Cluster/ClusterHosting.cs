using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Tally.Server;

namespace Tally.Cluster;

/// <summary>Makes a Tally server a cluster node: <c>tally serve --cluster --database ...</c> calls this on the server's builder.</summary>
public static class ClusterHosting
{
    /// <summary>
    /// Adds the Orleans silo (membership through ADO.NET clustering on the ledger's PostgreSQL, whose tables Tally's
    /// migrations create), the tenant grain and the front that routes each tenant's requests to it. Reads
    /// <c>Tally:Cluster:*</c> and <c>Tally:Database</c>; the server's option validation has already refused a cluster
    /// without PostgreSQL by the time the silo starts.
    /// </summary>
    public static void AddTallyCluster(this WebApplicationBuilder builder)
    {
        var tally = builder.Configuration.GetSection(TallyOptions.Section).Get<TallyOptions>() ?? new TallyOptions();
        var settings = tally.Cluster;
        // Loaded here, before anything starts, so an unusable certificate stops `tally serve` with its reason.
        var tls = string.IsNullOrWhiteSpace(settings.Certificate) ? null : ClusterTls.Load(settings, TimeProvider.System);
        builder.Configuration[$"{TallyOptions.Section}:Cluster:Enabled"] = "true";
        builder.UseOrleans(silo =>
        {
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = tally.Database ?? "";
            });
            // Names the process in the membership table and in /health: host and process id, as the ledger's claims do.
            silo.Configure<SiloOptions>(o => o.SiloName = $"{Environment.MachineName}:{Environment.ProcessId}");
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.Id;
                o.ServiceId = "tally";
            });
            var advertised = settings.AdvertisedAddress is { Length: > 0 } address && IPAddress.TryParse(address, out var ip) ? ip : null;
            if (advertised is not null)
            {
                silo.ConfigureEndpoints(advertised, settings.SiloPort, gatewayPort: 0, listenOnAnyHostAddress: !IPAddress.IsLoopback(advertised));
            }
            else
            {
                silo.ConfigureEndpoints(settings.SiloPort, gatewayPort: 0);
            }
            if (tls is not null)
            {
                // Both ends present the certificate and check the other's: an inbound connection without a trusted
                // certificate is closed before any message is read. Without one (allowed on loopback only, by the
                // options' validation) the port is plain TCP.
                silo.UseTls(tls.Certificate, o =>
                {
                    o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                    o.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
                    o.RemoteCertificateValidation = (peer, _, _) => tls.Admits(peer);
                });
            }
            // Failure detection (docs/scaling.md): a node that misses two probes in a row, from two other nodes, is
            // declared dead; its tenants' grains then activate elsewhere on their next request.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = settings.ProbeTimeout;
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 2;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
            });
        });
        builder.Services.AddSingleton<OwnerDispatch>();
        // A tenant's grain stays while the node lives: each new activation claims the ledger anew and replays it.
        // The writer's own sleep (Tally:SleepIdleTenantsAfter) still lets an idle tenant's memory go meanwhile.
        builder.Services.Configure<GrainCollectionOptions>(o => o.CollectionAge = TimeSpan.FromDays(1));
        builder.Services.AddSingleton<ClusterMetrics>();
        builder.Services.AddSingleton<ITenantRouter, GrainRouter>();
        builder.Services.AddSingleton<IClusterStatus, ClusterStatus>();
        // The metrics' instruments exist once something asks for them: at the start, not at the first forward.
        builder.Services.AddHostedService(sp => new EagerSingleton<ClusterMetrics>(sp.GetRequiredService<ClusterMetrics>()));
        DecorateServer(builder.Services);
    }

    /// <summary>Wraps the host's server (Kestrel, registered by the builder already) so <see cref="OwnerDispatch"/> gets its pipeline.</summary>
    private static void DecorateServer(IServiceCollection services)
    {
        var kestrel = services.Last(d => d.ServiceType == typeof(IServer));
        services.Remove(kestrel);
        var implementation = kestrel.ImplementationType ?? throw new InvalidOperationException("The host's server is not registered by type.");
        services.AddSingleton(sp => new OwnerDispatch.CapturingServer((IServer)ActivatorUtilities.CreateInstance(sp, implementation), sp.GetRequiredService<OwnerDispatch>()));
        services.AddSingleton<IServer>(sp => sp.GetRequiredService<OwnerDispatch.CapturingServer>());
    }

    private sealed class EagerSingleton<T>(T instance) : IHostedService
    {
        public T Instance { get; } = instance;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
