using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Scalar.AspNetCore;
using Tally.Server.Dashboard;
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
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configureForTests = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        // Quiet defaults under every other source: ASP.NET's per-request lines are noise for an operator, and
        // appsettings.json, Logging__LogLevel__* variables or --Logging:LogLevel:... flags still override them.
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            },
        });
        builder.Configuration.AddCommandLine(args, Flags);
        builder.Services.AddOptions<TallyOptions>().Bind(builder.Configuration.GetSection(TallyOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TallyOptions>, TallyOptionsValidator>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ILedgerStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<TallyOptions>>().Value;
            ILedgerStore store;
            if (options.Database is { Length: > 0 } connectionString)
            {
                store = new PostgresLedgerStore(connectionString);
            }
            else
            {
                Directory.CreateDirectory(options.Data);
                store = new SqliteLedgerStore(options.DatabasePath, options.Synchronous);
            }
            store.Initialize();
            return store;
        });
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<FailedAuthLimiter>();
        TrustedProxies.AddTrustedProxies(builder.Services);
        builder.Services.AddSingleton<LicenseVerifierHolder>();
        builder.Services.AddSingleton<Tenants>();
        builder.Services.AddSingleton<PlanEditor>();
        builder.Services.AddSingleton<TallyMetrics>();
        builder.Services.AddDashboard();
        builder.Services.AddMonitoring(builder.Configuration);
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Tally";
            document.Info.Description = "Consumption-based capacity licensing. Send API keys as 'Authorization: Bearer KEY'; see docs/api.md.";
            return Task.CompletedTask;
        }));
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(TallyMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        configureForTests?.Invoke(builder);

        var app = builder.Build();
        // First, so every later step sees the client's address and scheme (only as told by a trusted proxy).
        TrustedProxiesOf(app).Use(app);
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
        app.MapUsage();
        app.MapLicensesApi();
        app.MapMonitoring();
        app.MapDashboard();
        Start(app);
        return app;
    }

    /// <summary>
    /// Validates the options, opens the ledger, makes sure a bootstrap key exists, and rebuilds every tenant's meter,
    /// all before the first request can arrive. Bad options throw <see cref="OptionsValidationException"/> here.
    /// </summary>
    private static void Start(WebApplication app)
    {
        var services = app.Services;
        _ = services.GetRequiredService<IOptions<TallyOptions>>().Value;
        var keys = services.GetRequiredService<ApiKeys>();
        var store = services.GetRequiredService<ILedgerStore>();
        var log = services.GetRequiredService<ILoggerFactory>().CreateLogger("Tally.Server");
        if (app.Configuration["TALLY_ADMIN_KEY"] is { Length: > 0 } adminKey)
        {
            keys.EnsureBootstrap(adminKey);
        }
        else if (!store.HasActiveKey(ApiRole.Bootstrap))
        {
            var (_, key) = keys.Issue(null, ApiRole.Bootstrap);
            // Printed once, to the console only (never logged): the ledger keeps its hash.
            Console.WriteLine($"Bootstrap admin key (shown once, store it now): {key}");
        }
        services.GetRequiredService<Tenants>().RebuildAll();
        log.LogInformation("Tally is ready; ledger at {Path}", store switch
        {
            SqliteLedgerStore sqlite => sqlite.Path,
            PostgresLedgerStore postgres => postgres.Description,
            _ => "(store)",
        });
    }

    /// <summary>Tally:TrustedProxies, validated with the other options (a bad entry stops the start with its name).</summary>
    private static TrustedProxies TrustedProxiesOf(WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TallyOptions>>().Value;
        _ = TrustedProxies.TryParse(options.TrustedProxies, out var proxies, out _);
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
        app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" }));
        app.MapGet("/health/ready", (Tenants tenants, ILedgerStore store) =>
            tenants.Ready && store.Ping()
                ? TypedResults.Ok(new { status = "ready" })
                : Problems.Status(StatusCodes.Status503ServiceUnavailable, "Not ready", "The ledger is opening or the meters are being rebuilt."));
    }
}
