using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Scalar.AspNetCore;
using Tally.Server.Dashboard;
using Tally.Server.Import;
using Tally.Server.Monitoring;
using Tally.Server.Qlik;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Builds the real server: <c>tally serve</c> and the tests start exactly this.</summary>
public static class TallyServer
{
    private static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        ["--data"] = "Tally:Data",
        ["--public-key"] = "Tally:PublicKey",
        ["--synchronous"] = "Tally:Synchronous",
        ["--database"] = "Tally:Database",
        ["--silo-port"] = "Tally:Cluster:SiloPort",
        ["--advertise"] = "Tally:Cluster:AdvertisedAddress",
        ["--cluster-cert"] = "Tally:Cluster:Certificate",
        ["--cluster-key"] = "Tally:Cluster:CertificateKey",
        ["--cluster-trust"] = "Tally:Cluster:Trust",
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configureForTests = null)
    {
        var builder = WebApplication.CreateSlimBuilder(ServiceManagers.Options(args));
        // Quiet defaults under every other source: ASP.NET's per-request lines are noise for an operator, and
        // appsettings.json, Logging__LogLevel__* variables or --Logging:LogLevel:... flags still override them.
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>(ServiceManagers.Defaults())
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                // A cluster node: Orleans narrates every membership change; its warnings and errors are what matter.
                ["Logging:LogLevel:Orleans"] = "Warning",
            },
        });
        ServiceManagers.Use(builder);
        builder.Configuration.AddCommandLine(args, Flags);
        builder.Services.AddOptions<TallyOptions>().Bind(builder.Configuration.GetSection(TallyOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TallyOptions>, TallyOptionsValidator>();
        builder.Services.AddSingleton(TimeProvider.System);
        // Held from before the ledger opens until the container is disposed (or the process dies, however it dies).
        builder.Services.AddSingleton(sp => DataFolderLock.Acquire(sp.GetRequiredService<IOptions<TallyOptions>>().Value.Data, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<ILedgerStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<TallyOptions>>().Value;
            ILedgerStore store;
            if (options.Database is { Length: > 0 } connectionString)
            {
                // Nodes may share one database (each tenant served by one node at a time): no folder lock.
                store = new PostgresLedgerStore(connectionString);
            }
            else
            {
                _ = sp.GetRequiredService<DataFolderLock>();
                store = new SqliteLedgerStore(options.DatabasePath, options.Synchronous);
            }
            try
            {
                store.Initialize();
            }
            catch
            {
                store.Dispose();
                throw;
            }
            return store;
        });
        // One store object, handed to each consumer as the one concern it uses. Each resolves through ILedgerStore, so a
        // test that replaces that registration (a hook around the store) replaces them all.
        builder.Services.AddSingleton<ILedgerLifecycle>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<IEventLedger>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<ITenantCatalog>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<IUsageReports>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<IAlertStore>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<ISourceCatalog>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<ISessionCatalog>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<IOfflineReports>(sp => sp.GetRequiredService<ILedgerStore>());
        builder.Services.AddSingleton<LedgerHealth>();
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<FailedAuthLimiter>();
        TrustedProxies.AddTrustedProxies(builder.Services);
        builder.Services.AddSingleton<LicenseVerifierHolder>();
        builder.Services.AddSingleton<Tenants>();
        builder.Services.AddHostedService<TenantSleeper>();
        builder.Services.AddSingleton<PlanEditor>();
        builder.Services.AddSingleton<TallyMetrics>();
        builder.Services.AddDashboard();
        builder.Services.AddTallyCompression();
        builder.Services.AddMonitoring(builder.Configuration);
        builder.Services.AddImport(builder.Configuration);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<TenantRouting.ElsewhereHandler>();
        builder.Services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Tally";
                document.Info.Description = "Consumption-based capacity licensing. Send API keys as 'Authorization: Bearer KEY'; see docs/api.md.";
                return Task.CompletedTask;
            });
            o.AddBearerSecurity();
            o.AddCsvExports();
        });
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(TallyMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        configureForTests?.Invoke(builder);

        var app = builder.Build();
        // First, so every later step sees the client's address and scheme (only as told by a trusted proxy).
        TrustedProxiesOf(app).Use(app);
        // Next, in a cluster: a tenant's API request goes to the node that owns the tenant, which does all the rest.
        app.UseTenantRouting();
        app.UseResponseCompression();
        app.UseJsonFinalNewline();
        app.UseApiETags();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapHealth();
        app.MapOpenApi();
        app.MapScalarApiReference();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapTenants();
        app.MapApiKeys();
        app.MapLicense();
        app.MapAllocations();
        app.MapEvents();
        app.MapOfflineReports();
        app.MapUsage();
        app.MapUsageFeed();
        app.MapLicensesApi();
        app.MapMonitoring();
        app.MapSources();
        app.MapCalendar();
        app.MapDashboard();
        try
        {
            Start(app);
        }
        catch
        {
            // Release what was taken (the data folder lock first of all), so an in-process caller can retry.
            ((IDisposable)app).Dispose();
            throw;
        }
        return app;
    }

    /// <summary>
    /// Validates the options, takes the data folder, opens the ledger and proves it takes a write, makes sure a bootstrap
    /// key exists, and rebuilds every tenant's meter, all before the first request can arrive. Bad options throw
    /// <see cref="OptionsValidationException"/> here; a ledger that cannot be used throws <see cref="LedgerOpenException"/>.
    /// </summary>
    private static void Start(WebApplication app)
    {
        var services = app.Services;
        _ = services.GetRequiredService<IOptions<TallyOptions>>().Value;
        var adminKey = app.Configuration["TALLY_ADMIN_KEY"];
        // Checked before the ledger is opened: a weak key never reaches it.
        if (adminKey is { Length: > 0 } && ApiKeys.CheckBootstrapKey(adminKey) is { } weak)
        {
            throw new OptionsValidationException("TALLY_ADMIN_KEY", typeof(TallyOptions), [weak + "."]);
        }
        var keys = services.GetRequiredService<ApiKeys>();
        var store = services.GetRequiredService<ILedgerStore>();
        var log = services.GetRequiredService<ILoggerFactory>().CreateLogger("Tally.Server");
        // A ledger that reads but cannot write (a read-only folder or mount left after a crash, a standby database)
        // would answer every event with 503 while looking healthy: refuse to start instead.
        if (store.CheckWritable() is { } unwritable)
        {
            throw new LedgerOpenException($"The ledger cannot be written: {unwritable}. Tally needs to write every decision before it answers; "
                + "make the ledger writable (permissions, mount, a primary rather than a standby) and start again.");
        }
        if (adminKey is { Length: > 0 })
        {
            keys.EnsureBootstrap(adminKey);
        }
        services.GetRequiredService<Tenants>().RebuildAll();
        // Only once the server listens: a start that fails (a port in use) must not have used up the one showing of a
        // new bootstrap key, nor claimed to be ready.
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (adminKey is not { Length: > 0 } && !store.HasActiveKey(ApiRole.Bootstrap))
            {
                var (_, key) = keys.Issue(null, ApiRole.Bootstrap);
                // Printed once, to the console only (never logged): the ledger keeps its hash.
                Console.WriteLine($"Bootstrap admin key (shown once, store it now): {key}");
            }
            log.LogInformation("Tally is ready at {Urls}; ledger at {Path}", string.Join(", ", app.Urls), (store as LedgerStore)?.Description ?? "(store)");
        });
    }

    /// <summary>Tally:TrustedProxies, validated with the other options (a bad entry stops the start with its name).</summary>
    private static TrustedProxies TrustedProxiesOf(WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TallyOptions>>().Value;
        var proxies = TrustedProxies.Parse(options.TrustedProxies).Value ?? TrustedProxies.None;
        if (proxies.IsEmpty && string.Equals(app.Configuration["ForwardedHeaders_Enabled"], "true", StringComparison.OrdinalIgnoreCase))
        {
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tally.Server").LogWarning(
                "ASPNETCORE_FORWARDEDHEADERS_ENABLED makes ASP.NET Core believe X-Forwarded-For and X-Forwarded-Proto from any client, "
                + "so a client can pick the address its failed attempts are counted by. Set Tally:TrustedProxies to the proxies' addresses instead.");
        }
        return proxies;
    }

    public static void MapHealth(this WebApplication app)
    {
        var cluster = app.Services.GetService<IClusterStatus>();
        app.MapGet("/health/live", () => TypedResults.Ok(new HealthStatus("live", cluster?.Health())));
        app.MapGet("/health/ready", Results<Ok<HealthStatus>, ProblemHttpResult> (Tenants tenants, LedgerHealth ledger) =>
        {
            var members = cluster?.Health();
            return !tenants.Ready ? Problems.Status(StatusCodes.Status503ServiceUnavailable, "Not ready", "The ledger is opening or the meters are being rebuilt.")
                : !ledger.Writable() ? Problems.Status(StatusCodes.Status503ServiceUnavailable, "Not ready", "The ledger cannot be written; the server log says why.")
                // A node that has not joined (or has left) the cluster cannot reach the tenants' grains.
                : members is { Status: not "active" } ? Problems.Status(StatusCodes.Status503ServiceUnavailable, "Not ready",
                    $"This node is '{members.Status}' in the cluster, not active.", new Dictionary<string, object?> { ["cluster"] = members })
                : TypedResults.Ok(new HealthStatus("ready", members));
        });
    }
}
