using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Tally.Licensing;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Tenants and keys (bootstrap key), and each tenant's keys, license and allocation plan (tenant admin).</summary>
public static partial class AdminEndpoints
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex TenantId();

    public static RouteGroupBuilder MapTenants(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/tenants").RequireRole(ApiRole.Bootstrap).WithTags("Tenants").ProducesProblem(401).ProducesProblem(403);
        group.MapPost("", async Task<Results<Created<CreatedTenant>, ProblemHttpResult>> (HttpContext http, ITenantCatalog store, TimeProvider time, Tenants tenants, IOptions<TallyOptions> options) =>
        {
            var read = await JsonBody.ReadAsync<CreateTenantRequest>(http, options.Value.MaxBodyBytes);
            if (!read.IsOk)
            {
                return read.Error;
            }
            var body = read.Value;
            if (body.Id is null || !TenantId().IsMatch(body.Id))
            {
                return Problems.BadRequest("id: 1 to 64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit.");
            }
            var name = string.IsNullOrWhiteSpace(body.Name) ? body.Id : body.Name;
            if (name.Length > 256)
            {
                return Problems.BadRequest("name: at most 256 characters.");
            }
            if (Problems.BadText("name", name) is { } badName)
            {
                return badName;
            }
            if (!store.CreateTenant(new TenantRecord(body.Id, name, time.GetUtcNow())))
            {
                return Problems.Status(StatusCodes.Status409Conflict, "Conflict", $"Tenant '{body.Id}' already exists.");
            }
            // A single node starts the new tenant's meter now; a cluster starts it where the tenant's grain first activates.
            if (!tenants.Clustered)
            {
                _ = tenants.Writer(body.Id);
            }
            return TypedResults.Created($"/api/v1/tenants/{body.Id}", new CreatedTenant(body.Id, name));
        }).Accepts<CreateTenantRequest>("application/json").ProducesProblem(400).ProducesProblem(409).WithSummary("Create a tenant (bootstrap key).");
        group.MapGet("", (ITenantCatalog store) => TypedResults.Ok(store.Tenants().Select(t => new TenantInfo(t.Id, t.Name, t.Created)).ToList()));
        group.MapPost("/{id}/api-keys", async Task<Results<Created<IssuedApiKey>, ProblemHttpResult>> (string id, HttpContext http, ITenantCatalog store, ApiKeys keys, IOptions<TallyOptions> options) =>
        {
            if (store.GetTenant(id) is null)
            {
                return Problems.NotFound($"No tenant '{id}'.");
            }
            return await IssueKey(http, keys, id, options.Value.MaxBodyBytes);
        }).Accepts<CreateKeyRequest>("application/json").ProducesProblem(404).WithSummary("Issue an API key for a tenant (bootstrap key).");
        return group;
    }

    private static async Task<Results<Created<IssuedApiKey>, ProblemHttpResult>> IssueKey(HttpContext http, ApiKeys keys, string tenant, int maxBytes)
    {
        var body = await JsonBody.ReadAsync<CreateKeyRequest>(http, maxBytes);
        if (!body.IsOk)
        {
            return body.Error;
        }
        if (!ApiRoles.TryParse(body.Value.Role, out var role) || role == ApiRole.Bootstrap)
        {
            return Problems.BadRequest("role: must be ingest, read or admin.");
        }
        var (keyId, key) = keys.Issue(tenant, role);
        return TypedResults.Created($"/api/v1/api-keys/{keyId}", new IssuedApiKey(keyId, key, tenant, role.ToWire()));
    }

    public static RouteGroupBuilder MapApiKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/api-keys").WithTags("API keys").ProducesProblem(401).ProducesProblem(403);
        group.MapPost("", (HttpContext http, ApiKeys keys, IOptions<TallyOptions> options) => IssueKey(http, keys, http.Tenant(), options.Value.MaxBodyBytes))
            .RequireRole(ApiRole.Admin).Accepts<CreateKeyRequest>("application/json").WithSummary("Issue a key for the caller's tenant.");
        group.MapGet("", (HttpContext http, ITenantCatalog store) =>
            TypedResults.Ok(store.ApiKeys(http.Tenant()).Select(k => new ApiKeyInfo(k.Id, k.Role.ToWire(), k.Created, k.Revoked)).ToList()))
            .RequireRole(ApiRole.Admin);
        // A tenant admin sees only its own keys: another tenant's key id is "not found", never "forbidden".
        group.MapDelete("/{id}", Results<NoContent, ProblemHttpResult> (string id, HttpContext http, ITenantCatalog store, ApiKeys keys) =>
        {
            var caller = http.Caller();
            var key = store.GetApiKey(id);
            if (key is null || (caller.Role != ApiRole.Bootstrap && key.Tenant != caller.Tenant))
            {
                return Problems.NotFound($"No API key '{id}'.");
            }
            keys.Revoke(id);
            return TypedResults.NoContent();
        }).RequireRole(ApiRole.Admin, ApiRole.Bootstrap);
        return group;
    }

    public static RouteGroupBuilder MapLicense(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/license").WithTags("License").ProducesProblem(401).ProducesProblem(403);
        group.MapPut("", async Task<Results<Ok<LicenseView>, ProblemHttpResult>> (HttpContext http, ITenantCatalog store, IEventLedger ledger, TimeProvider time, Tenants tenants, LicenseVerifierHolder holder, IOptions<TallyOptions> options) =>
        {
            var read = await JsonBody.ReadAsync<LicenseRequest>(http, Math.Min(options.Value.MaxBodyBytes, LicenseKey.MaxLength * 2));
            if (!read.IsOk)
            {
                return read.Error;
            }
            var body = read.Value;
            if (holder.Verifier is not { } verifier)
            {
                return Problems.Status(StatusCodes.Status503ServiceUnavailable, "No public key",
                    "This server has no vendor public key configured (--public-key FILE or Tally:PublicKey), so it cannot verify licenses.");
            }
            var now = time.GetUtcNow();
            var tenant = http.Tenant();
            var verification = verifier.Verify(body.Key, now);
            if (!verification.IsValid)
            {
                return Problems.BadRequest($"key: {verification.Failure.ToWire()}: {verification.Message}",
                    new Dictionary<string, object?> { ["reason"] = verification.Failure.ToWire() });
            }
            // One install at a time, in this process and (on PostgreSQL) on every node of the database: the checks
            // below read other tenants' licenses, then write.
            await LicenseInstalls.WaitAsync();
            try
            {
                var conflict = store.Exclusively("license-install", () =>
                {
                    var found = LicenseConflict(tenant, verification.Terms, store, ledger, tenants, holder, options.Value);
                    if (found is null)
                    {
                        store.SetLicense(new LicenseRecord(tenant, body.Key!, now));
                    }
                    return found;
                });
                if (conflict is not null)
                {
                    return conflict;
                }
                await tenants.Writer(tenant).ReconfigureAsync();
            }
            finally
            {
                LicenseInstalls.Release();
            }
            return TypedResults.Ok(ToView(verification.Terms));
        }).RequireRole(ApiRole.Admin).Accepts<LicenseRequest>("application/json").ProducesProblem(400).WithSummary("Install the tenant's signed license key.");
        group.MapGet("", Results<Ok<LicenseView>, ProblemHttpResult> (HttpContext http, Tenants tenants) =>
            tenants.Writer(http.Tenant()).Snapshot.Config.License is { } terms
                ? TypedResults.Ok(ToView(terms))
                : Problems.NotFound("No license is installed: the tenant is metered without a pool."))
            .RequireRole(ApiRole.Admin, ApiRole.Read);
        return group;
    }

    private static readonly SemaphoreSlim LicenseInstalls = new(1, 1);

    /// <summary>
    /// Why <paramref name="terms"/> may not be installed on <paramref name="tenant"/>: an earlier issue of a license this
    /// tenant already had (a rollback to fewer minutes, seats or an earlier end), or a license another tenant holds (one
    /// customer's license serving two tenants). Operators who need either set the options named in the answer.
    /// </summary>
    private static ProblemHttpResult? LicenseConflict(string tenant, LicenseTerms terms, ITenantCatalog store, IEventLedger ledger, Tenants tenants, LicenseVerifierHolder holder, TallyOptions options)
    {
        if (!options.AllowLicenseRollback)
        {
            var verifier = holder.For(tenant);
            var installed = ledger.TermsChanges(tenant).Select(c => c.LicenseKey).Append(store.GetLicense(tenant)?.Key)
                .OfType<string>().Distinct(StringComparer.Ordinal)
                .Select(key => verifier?.VerifyAuthentic(key) is { IsValid: true } v ? v.Terms : null)
                .OfType<LicenseTerms>();
            if (installed.FirstOrDefault(t => t.LicenseId == terms.LicenseId && t.IssuedAt > terms.IssuedAt) is { } newer)
            {
                return Problems.Status(StatusCodes.Status409Conflict, "Conflict",
                    $"key: license '{terms.LicenseId}' issued {terms.IssuedAt:u} is older than the issue of {newer.IssuedAt:u} this tenant already had; "
                    + "installing it would roll the license back (the operator can allow it with Tally:AllowLicenseRollback).",
                    new Dictionary<string, object?> { ["reason"] = "rollback" });
            }
        }
        if (!options.AllowSharedLicenses
            && store.Tenants().Any(t => t.Id != tenant && tenants.LicenseIdInForce(t.Id) == terms.LicenseId))
        {
            // The other tenant is not named: a tenant admin learns nothing about other tenants.
            return Problems.Status(StatusCodes.Status409Conflict, "Conflict",
                $"key: license '{terms.LicenseId}' is installed on another tenant of this server; one license serves one tenant "
                + "(the operator can allow sharing with Tally:AllowSharedLicenses).",
                new Dictionary<string, object?> { ["reason"] = "installed-elsewhere" });
        }
        return null;
    }

    internal static LicenseView ToView(LicenseTerms t) => new(
        t.LicenseId, t.Customer, t.ValidFrom, t.ValidTo, t.Mode == CountingMode.App ? "app" : "device", t.UnitMinutes, t.Packs, t.PackMinutes,
        t.IncludedMinutes, t.Overage.ToString(), t.ProfessionalSeats, t.AnalyzerSeats, t.TimeZoneId, t.AnonymousCapacity);

    public static RouteGroupBuilder MapAllocations(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1").WithTags("Allocations").ProducesProblem(401).ProducesProblem(403);
        group.MapGet("/allocations", (HttpContext http, Tenants tenants) => TypedResults.Ok(tenants.Writer(http.Tenant()).Snapshot.Config.Plan))
            .RequireRole(ApiRole.Admin, ApiRole.Read);
        group.MapPut("/allocations", async Task<Results<Ok<AllocationPlanDto>, ProblemHttpResult>> (HttpContext http, PlanEditor plans, IOptions<TallyOptions> options) =>
        {
            var plan = await JsonBody.ReadAsync<AllocationPlanDto>(http, options.Value.MaxBodyBytes);
            return plan.IsOk ? Saved(await plans.SaveAsync(http.Tenant(), _ => plan.Value)) : plan.Error;
        }).RequireRole(ApiRole.Admin).Accepts<AllocationPlanDto>("application/json").WithSummary("Replace the allocation plan (seats, groups, caps).");
        group.MapPut("/users/{user}", async Task<Results<Ok<AllocationPlanDto>, ProblemHttpResult>> (string user, HttpContext http, PlanEditor plans, IOptions<TallyOptions> options) =>
        {
            var row = await JsonBody.ReadAsync<UserPlanDto>(http, options.Value.MaxBodyBytes);
            return row.IsOk
                ? Saved(await plans.SaveAsync(http.Tenant(), current => current with { Users = [.. current.Users.Where(u => u.User != user), row.Value with { User = user }] }))
                : row.Error;
        }).RequireRole(ApiRole.Admin).Accepts<UserPlanDto>("application/json").WithSummary("Set one user's allocation, groups and cap.");
        group.MapDelete("/users/{user}", async Task<Results<Ok<AllocationPlanDto>, ProblemHttpResult>> (string user, HttpContext http, PlanEditor plans) =>
        {
            var saved = await plans.SaveAsync(http.Tenant(), current => current.Users.All(u => u.User != user) ? null : current with { Users = [.. current.Users.Where(u => u.User != user)] });
            return saved is { IsOk: true, Value.Changed: false } ? Problems.NotFound($"User '{user}' has no row in the allocation plan.") : Saved(saved);
        }).RequireRole(ApiRole.Admin);
        return group;
    }

    /// <summary>The plan as saved (200) or why it was refused.</summary>
    private static Results<Ok<AllocationPlanDto>, ProblemHttpResult> Saved(Outcome<SavedPlan, ProblemHttpResult> saved) =>
        saved.IsOk ? TypedResults.Ok(saved.Value.Plan) : saved.Error;
}
