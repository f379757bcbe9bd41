using System.Net.Http.Json;
using System.Text.Json;
using Tally.Contract;

namespace Tally.Client;

/// <summary>Direct calls: the answer as its contract type, or a <see cref="TallyApiException"/> carrying Tally's problem.</summary>
internal sealed class TallyCalls(HttpClient http)
{
    public async Task<T> GetAsync<T>(string path, CancellationToken cancel)
    {
        using var response = await http.GetAsync(path, cancel).ConfigureAwait(false);
        return await ReadAsync<T>(response, $"GET /{path}", cancel).ConfigureAwait(false);
    }

    public async Task<TOut> PostAsync<TIn, TOut>(string path, TIn body, CancellationToken cancel)
    {
        using var response = await http.PostAsJsonAsync(path, body, TallyJson.Options, cancel).ConfigureAwait(false);
        return await ReadAsync<TOut>(response, $"POST /{path}", cancel).ConfigureAwait(false);
    }

    public async Task<TOut> PutAsync<TIn, TOut>(string path, TIn body, CancellationToken cancel)
    {
        using var response = await http.PutAsJsonAsync(path, body, TallyJson.Options, cancel).ConfigureAwait(false);
        return await ReadAsync<TOut>(response, $"PUT /{path}", cancel).ConfigureAwait(false);
    }

    public async Task DeleteAsync(string path, CancellationToken cancel)
    {
        using var response = await http.DeleteAsync(path, cancel).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, $"DELETE /{path}").ConfigureAwait(false);
        }
    }

    public static async Task<TallyApiException> ErrorAsync(HttpResponseMessage response, string call)
    {
        ApiProblem? problem = null;
        try
        {
            problem = await response.Content.ReadFromJsonAsync<ApiProblem>(TallyJson.Options).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's page, say): the status alone tells.
        }
        return new TallyApiException(response.StatusCode, problem,
            $"{call}: {(int)response.StatusCode} {problem?.Title ?? response.ReasonPhrase}{(problem?.Detail is { } d ? ": " + d : "")}");
    }

    /// <summary>A query string of the given parameters that have values, escaped.</summary>
    public static string Query(params (string Name, object? Value)[] parameters)
    {
        var present = parameters.Where(p => p.Value is not null)
            .Select(p => $"{p.Name}={Uri.EscapeDataString(Convert.ToString(p.Value, System.Globalization.CultureInfo.InvariantCulture)!)}").ToList();
        return present.Count == 0 ? "" : "?" + string.Join('&', present);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, string call, CancellationToken cancel)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, call).ConfigureAwait(false);
        }
        return (await response.Content.ReadFromJsonAsync<T>(TallyJson.Options, cancel).ConfigureAwait(false))!;
    }
}

/// <summary>Tally's usage reports (a read or admin key). <c>period</c> is <c>YYYY-MM</c>; absent, the current period.</summary>
public sealed class TallyReports
{
    private readonly TallyCalls _calls;

    internal TallyReports(TallyCalls calls) => _calls = calls;

    public Task<UsageSummary> SummaryAsync(string? period = null, CancellationToken cancel = default) =>
        _calls.GetAsync<UsageSummary>("api/v1/usage/summary" + TallyCalls.Query(("period", period)), cancel);

    public Task<UsageTimeline> TimelineAsync(string? period = null, string? granularity = null, CancellationToken cancel = default) =>
        _calls.GetAsync<UsageTimeline>("api/v1/usage/timeline" + TallyCalls.Query(("period", period), ("granularity", granularity)), cancel);

    public Task<UserUsagePage> UsersAsync(string? period = null, string? sort = null, string? order = null, string? search = null, int? limit = null, int? offset = null,
        CancellationToken cancel = default) =>
        _calls.GetAsync<UserUsagePage>("api/v1/usage/users" + TallyCalls.Query(("period", period), ("sort", sort), ("order", order), ("search", search), ("limit", limit), ("offset", offset)), cancel);

    public Task<AppUsagePage> AppsAsync(string? period = null, string? sort = null, string? order = null, string? search = null, int? limit = null, int? offset = null,
        CancellationToken cancel = default) =>
        _calls.GetAsync<AppUsagePage>("api/v1/usage/apps" + TallyCalls.Query(("period", period), ("sort", sort), ("order", order), ("search", search), ("limit", limit), ("offset", offset)), cancel);

    public Task<DenialsPage> DenialsAsync(string? period = null, CancellationToken cancel = default) =>
        _calls.GetAsync<DenialsPage>("api/v1/usage/denials" + TallyCalls.Query(("period", period)), cancel);

    public Task<WasteReport> WasteAsync(string? period = null, int? quietMinutes = null, CancellationToken cancel = default) =>
        _calls.GetAsync<WasteReport>("api/v1/usage/waste" + TallyCalls.Query(("period", period), ("quietMinutes", quietMinutes)), cancel);

    public Task<LedgerVersion> VersionAsync(CancellationToken cancel = default) => _calls.GetAsync<LedgerVersion>("api/v1/usage/version", cancel);

    /// <summary>What clients decided offline in the period, with Tally's later decision on each grant.</summary>
    public Task<OfflineReportsView> OfflineReportsAsync(string? period = null, CancellationToken cancel = default) =>
        _calls.GetAsync<OfflineReportsView>("api/v1/offline-reports" + TallyCalls.Query(("period", period)), cancel);
}

/// <summary>Tally's admin calls: a tenant admin key, or for tenants the operator's bootstrap key.</summary>
public sealed class TallyAdmin
{
    private readonly TallyCalls _calls;

    internal TallyAdmin(TallyCalls calls) => _calls = calls;

    public Task<LicenseView> LicenseAsync(CancellationToken cancel = default) => _calls.GetAsync<LicenseView>("api/v1/license", cancel);

    /// <summary>Installs a signed license key; Tally verifies it on its exact bytes.</summary>
    public Task<LicenseView> InstallLicenseAsync(string key, CancellationToken cancel = default) =>
        _calls.PutAsync<LicenseRequest, LicenseView>("api/v1/license", new LicenseRequest(key), cancel);

    public Task<AllocationPlanDto> AllocationsAsync(CancellationToken cancel = default) => _calls.GetAsync<AllocationPlanDto>("api/v1/allocations", cancel);

    public Task<AllocationPlanDto> PutAllocationsAsync(AllocationPlanDto plan, CancellationToken cancel = default) =>
        _calls.PutAsync<AllocationPlanDto, AllocationPlanDto>("api/v1/allocations", plan, cancel);

    /// <summary>Sets one user's row of the plan (allocation, groups, cap).</summary>
    public Task<AllocationPlanDto> PutUserAsync(UserPlanDto user, CancellationToken cancel = default) =>
        _calls.PutAsync<UserPlanDto, AllocationPlanDto>("api/v1/users/" + Uri.EscapeDataString(user.User), user, cancel);

    public Task<List<ApiKeyInfo>> ApiKeysAsync(CancellationToken cancel = default) => _calls.GetAsync<List<ApiKeyInfo>>("api/v1/api-keys", cancel);

    /// <summary>Issues a key of the tenant with <paramref name="role"/> (ingest, read or admin); the answer is the only place its secret appears.</summary>
    public Task<IssuedApiKey> CreateApiKeyAsync(string role, CancellationToken cancel = default) =>
        _calls.PostAsync<CreateKeyRequest, IssuedApiKey>("api/v1/api-keys", new CreateKeyRequest(role), cancel);

    public Task RevokeApiKeyAsync(string id, CancellationToken cancel = default) => _calls.DeleteAsync("api/v1/api-keys/" + Uri.EscapeDataString(id), cancel);

    /// <summary>Creates a tenant (the operator's bootstrap key).</summary>
    public Task<CreatedTenant> CreateTenantAsync(string id, string? name = null, CancellationToken cancel = default) =>
        _calls.PostAsync<CreateTenantRequest, CreatedTenant>("api/v1/tenants", new CreateTenantRequest(id, name), cancel);

    /// <summary>Issues a key of tenant <paramref name="tenant"/> (the operator's bootstrap key).</summary>
    public Task<IssuedApiKey> CreateTenantKeyAsync(string tenant, string role, CancellationToken cancel = default) =>
        _calls.PostAsync<CreateKeyRequest, IssuedApiKey>($"api/v1/tenants/{Uri.EscapeDataString(tenant)}/api-keys", new CreateKeyRequest(role), cancel);
}
