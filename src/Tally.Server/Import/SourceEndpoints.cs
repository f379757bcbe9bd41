using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Server.Import;

/// <summary>
/// The import sources of a tenant (rule R13): add, list, read, remove, pull now. Admin keys only; every route is the
/// caller's tenant's. The secret goes in once and never comes out: sealed by <see cref="SecretBox"/> before it is
/// stored, shown afterwards only as <c>hasSecret</c>.
/// </summary>
public static class SourceEndpoints
{
    public const int MaxSourcesPerTenant = 10;

    /// <summary>The largest source definition taken (a PFX and a CA certificate fit well within it).</summary>
    private const int MaxBodyBytes = 256 * 1024;
    public const string QlikCloud = "qlik-cloud", Qseow = "qseow";

    /// <summary>The import's services: its options, the secrets box, the source clients and the scheduler (a hosted service).</summary>
    public static IServiceCollection AddImport(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        services.AddOptions<ImportOptions>().Bind(configuration.GetSection(ImportOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ImportOptions>, ImportOptionsValidator>();
        services.AddSingleton(sp => new SecretBox(sp.GetRequiredService<IOptions<TallyOptions>>().Value.SecretsKeyPath));
        services.AddSingleton<ISourceClients, SourceClients>();
        services.AddSingleton<SourceSync>();
        services.AddHostedService(sp => sp.GetRequiredService<SourceSync>());
        return services;
    }

    public static RouteGroupBuilder MapSources(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/sources").WithTags("Import").ProducesProblem(401).ProducesProblem(403);
        group.MapPost("", Create).RequireRole(ApiRole.Admin).Accepts<CreateSourceRequest>("application/json")
            .WithSummary("Add a Qlik Cloud or QSEoW source of observed usage; it is pulled at once and then every intervalSeconds.");
        group.MapGet("", (HttpContext http, ISourceCatalog store, TimeProvider time) =>
            TypedResults.Ok(store.Sources(http.Tenant()).Select(s => View(s.Source, s.Status, time.GetUtcNow())).ToList())).RequireRole(ApiRole.Admin, ApiRole.Read)
            .WithSummary("The tenant's sources with their status.");
        group.MapGet("/{id}", Results<Ok<SourceView>, ProblemHttpResult> (HttpContext http, string id, ISourceCatalog store, TimeProvider time) =>
            store.GetSource(http.Tenant(), id) is { } found ? TypedResults.Ok(View(found.Source, found.Status, time.GetUtcNow())) : NotFound(id))
            .RequireRole(ApiRole.Admin, ApiRole.Read).WithSummary("One source and its status.");
        group.MapPut("/{id}", Replace).RequireRole(ApiRole.Admin).Accepts<CreateSourceRequest>("application/json")
            .WithSummary("Replace a source's address, credential and settings (a new API key, a renewed certificate), keeping what it imported and its watermark; enables it again.");
        group.MapDelete("/{id}", Results<NoContent, ProblemHttpResult> (HttpContext http, string id, ISourceCatalog store, Tenants tenants) =>
        {
            if (!store.RemoveSource(http.Tenant(), id))
            {
                return NotFound(id);
            }
            tenants.Observing(tenants.Writer(http.Tenant()));
            return TypedResults.NoContent();
        })
            .RequireRole(ApiRole.Admin).WithSummary("Remove a source (what it imported stays in the ledger).");
        // Not cancelled with the request: a first pull can take minutes, and a client or proxy that gives up must not cut
        // it short (each retry would start it again); only the server stopping does, and the pull records what it did.
        group.MapPost("/{id}/pull", async Task<Results<Ok<PullResult>, ProblemHttpResult>> (HttpContext http, string id, SourceSync sync,
            Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) =>
            await sync.PullAsync(http.Tenant(), id, lifetime.ApplicationStopping) is { } report
                ? TypedResults.Ok(new PullResult(report.Added, report.Repeated, report.Conflicts.Count, report.Failure, report.Error, report.Rejected, report.Rejection))
                : NotFound(id))
            .RequireRole(ApiRole.Admin).WithSummary("Pull the source now and answer what the pull did.");
        return group;
    }

    private static ProblemHttpResult NotFound(string id) =>
        Problems.Status(StatusCodes.Status404NotFound, "Not found", $"No source '{(id.Length > 64 ? id[..64] : id)}' in this tenant.");

    private static async Task<Results<Created<SourceView>, ProblemHttpResult>> Create(HttpContext http, ISourceCatalog store, Tenants tenants, SecretBox secrets, TimeProvider time,
        IOptions<TallyOptions> options, IOptions<ImportOptions> import)
    {
        var read = await JsonBody.ReadAsync<CreateSourceRequest>(http, Math.Min(options.Value.MaxBodyBytes, MaxBodyBytes));
        if (!read.IsOk)
        {
            return read.Error;
        }
        var body = read.Value;
        var tenant = http.Tenant();
        if (Validate(body, import.Value) is { } problem)
        {
            return problem;
        }
        var id = body.Id!;
        var (url, settings, secret) = Definition(body, tenant, secrets);
        var interval = body.IntervalSeconds ?? (int)import.Value.DefaultInterval.TotalSeconds;
        var source = new SourceRecord(tenant, id, body.Kind!, url, settings, secret, interval, time.GetUtcNow(), Enabled: true);
        switch (store.AddSource(source, MaxSourcesPerTenant))
        {
            case SourceAdded.Exists:
                return Problems.Status(StatusCodes.Status409Conflict, "Conflict", $"The tenant has a source '{id}' already.");
            case SourceAdded.Full:
                return Problems.Status(StatusCodes.Status409Conflict, "Conflict", $"A tenant has at most {MaxSourcesPerTenant} sources.");
        }
        tenants.Observing(tenants.Writer(tenant));
        return TypedResults.Created($"/api/v1/sources/{id}", View(source, new SourceStatus(0, null, null, null, null, 0, 0, 0, null), time.GetUtcNow()));
    }

    /// <summary>
    /// A source given again in full, as when it was added (same kind): the address, credential, settings and interval
    /// are replaced, while its watermark, counts and what it imported stay, so a rotated key or a renewed certificate
    /// costs no re-read and no moment as a metered tenant. It is enabled again (the usual fix of a stopped source).
    /// </summary>
    private static async Task<Results<Ok<SourceView>, ProblemHttpResult>> Replace(HttpContext http, string id, ISourceCatalog store, Tenants tenants, SecretBox secrets,
        TimeProvider time, IOptions<TallyOptions> options, IOptions<ImportOptions> import)
    {
        var read = await JsonBody.ReadAsync<CreateSourceRequest>(http, Math.Min(options.Value.MaxBodyBytes, MaxBodyBytes));
        if (!read.IsOk)
        {
            return read.Error;
        }
        var body = read.Value with { Id = read.Value.Id ?? id };
        var tenant = http.Tenant();
        if (body.Id != id)
        {
            return Problems.BadRequest("id: the body names another source than the address; leave it out or give the same.");
        }
        if (store.GetSource(tenant, id) is not { } held)
        {
            return NotFound(id);
        }
        if (Validate(body, import.Value) is { } problem)
        {
            return problem;
        }
        if (body.Kind != held.Source.Kind)
        {
            return Problems.Status(StatusCodes.Status409Conflict, "Conflict",
                $"kind: the source '{id}' is {held.Source.Kind}; another kind is another source (remove this one and add it).");
        }
        var (url, settings, secret) = Definition(body, tenant, secrets);
        var source = held.Source with
        {
            Url = url, SettingsJson = settings, Secret = secret, IntervalSeconds = body.IntervalSeconds ?? held.Source.IntervalSeconds, Enabled = true,
        };
        if (!store.UpdateSource(source))
        {
            return NotFound(id);
        }
        tenants.Observing(tenants.Writer(tenant));
        return TypedResults.Ok(View(source, held.Status, time.GetUtcNow()));
    }

    /// <summary>What is wrong with the request, naming the field, or null.</summary>
    private static ProblemHttpResult? Validate(CreateSourceRequest body, ImportOptions import)
    {
        if (body.Id is not { Length: >= 1 and <= 64 } id || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return Problems.BadRequest("id: 1 to 64 letters, digits, '-', '_' or '.'.");
        }
        if (body.Kind is not (QlikCloud or Qseow))
        {
            return Problems.BadRequest($"kind: must be {QlikCloud} or {Qseow}.");
        }
        if (body.Url is not { Length: <= 2000 } url || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http")
            || (uri.Scheme == "http" && !import.AllowPrivateTargets) || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return Problems.BadRequest("url: an absolute https URL without credentials, query or fragment (http only where Tally:Import:AllowPrivateTargets is on).");
        }
        if (!import.AllowPrivateTargets && WebhookTargets.LiteralAddress(uri) is { } literal && !WebhookTargets.IsPublic(literal))
        {
            return Problems.BadRequest("url: the host is not a public address (set Tally:Import:AllowPrivateTargets for an on-premises site).");
        }
        if (body.IntervalSeconds is { } interval && interval is < 60 or > 86_400)
        {
            return Problems.BadRequest("intervalSeconds: 60 to 86400.");
        }
        if ((Problems.BadText("apiKey", body.ApiKey) ?? Problems.BadText("qrsUser", body.QrsUser) ?? Problems.BadText("header.name", body.Header?.Name)
            ?? Problems.BadText("header.value", body.Header?.Value)) is { } badText)
        {
            return badText;
        }
        if (body.Kind == QlikCloud)
        {
            return body.ApiKey is { Length: >= 8 and <= 4096 } ? null : Problems.BadRequest("apiKey: the Qlik Cloud API key (8 to 4096 characters).");
        }
        var certificate = body.Certificate;
        if ((certificate is null) == (body.Header is null))
        {
            return Problems.BadRequest("certificate or header: a QSEoW source authenticates with a client certificate or through a virtual proxy's header, exactly one.");
        }
        if (body.Header is { } header && (header.Name is not { Length: >= 1 and <= 100 } || header.Value is not { Length: >= 1 and <= 256 }))
        {
            return Problems.BadRequest("header: name (1 to 100 characters) and value, the user (1 to 256).");
        }
        if (certificate is not null && CertificateProblem(certificate) is { } certificateProblem)
        {
            return Problems.BadRequest(certificateProblem);
        }
        if (body.TrustedCaPem is { } ca && !TryCertificate(() => System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(ca)))
        {
            return Problems.BadRequest("trustedCaPem: not a PEM certificate.");
        }
        return null;
    }

    /// <summary>Whether the certificate loads: a problem is named now, not at the first pull. The password never appears in the answer.</summary>
    private static string? CertificateProblem(SourceCertificate c)
    {
        if (c.Pfx is { } pfx)
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(pfx);
            }
            catch (FormatException)
            {
                return "certificate.pfx: not base64.";
            }
            return TryCertificate(() => System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(bytes, c.Password))
                ? null : "certificate.pfx: does not open (a wrong password, or not a PKCS#12 file).";
        }
        if (c.CertificatePem is { } pem && c.KeyPem is { } key)
        {
            return TryCertificate(() => System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem, key))
                ? null : "certificate.certificatePem, certificate.keyPem: not a PEM certificate and its private key.";
        }
        return "certificate: pfx (base64) with its password, or certificatePem and keyPem.";
    }

    private static bool TryCertificate(Func<System.Security.Cryptography.X509Certificates.X509Certificate2> load)
    {
        try
        {
            using var certificate = load();
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// What a valid request stores, as added or given again: the address as parsed, the settings (nothing secret) as
    /// JSON, and the secret as JSON sealed for this tenant's source.
    /// </summary>
    private static (string Url, string Settings, byte[] Secret) Definition(CreateSourceRequest body, string tenant, SecretBox secrets) =>
    (
        new Uri(body.Url!).ToString(),
        JsonSerializer.Serialize(new SourceSettings(body.TrustedCaPem, body.QrsUser, body.Header?.Name), JsonBody.Options),
        secrets.Seal(JsonSerializer.Serialize(new SourceSecret(body.ApiKey, body.Certificate?.Pfx, body.Certificate?.Password, body.Certificate?.CertificatePem,
            body.Certificate?.KeyPem, body.Header?.Value), JsonBody.Options), SourceSync.SecretContext(tenant, body.Id!))
    );

    private static SourceView View(SourceRecord s, SourceStatus status, DateTimeOffset now)
    {
        var watermark = status.WatermarkTicks == 0 ? (DateTimeOffset?)null : new DateTimeOffset(status.WatermarkTicks, TimeSpan.Zero);
        var state = !s.Enabled ? "stopped" : status.LastAttempt is null ? "new" : status.Failure is null ? "ok" : "failing";
        return new SourceView(s.Id, s.Kind, s.Url, s.IntervalSeconds, s.Enabled, s.Secret is not null, s.Created,
            new SourceStatusView(state, status.LastAttempt, status.LastSuccess, watermark, watermark is { } w ? (long)(now - w).TotalSeconds : null,
                status.Records, status.Repeats, status.Conflicts, status.Failure, status.LastError, status.Rejected, status.Rejection));
    }
}

/// <summary>A source's settings as stored (nothing secret): the CA its server certificate chains to, the QRS user, the virtual proxy's header.</summary>
public sealed record SourceSettings(string? TrustedCaPem, string? QrsUser, string? HeaderName);

/// <summary>A source's secret as sealed: the API key, the client certificate (PFX and password, or PEM and key), the header's value.</summary>
public sealed record SourceSecret(string? ApiKey, string? Pfx, string? Password, string? CertificatePem, string? KeyPem, string? HeaderValue);
