using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.TestSupport;

/// <summary>The HTTP steps every test host takes: a client with a key, and a new tenant with a key per role.</summary>
public static class ApiClients
{
    /// <summary>A client of the server at <paramref name="address"/>, sending <paramref name="key"/> as a bearer token (none: anonymous).</summary>
    public static HttpClient For(Uri address, string? key)
    {
        var client = new HttpClient { BaseAddress = address };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    /// <summary>Creates tenant <paramref name="id"/> with the bootstrap client and returns its new keys.</summary>
    public static async Task<TenantKeys> CreateTenantAsync(HttpClient bootstrap, string id)
    {
        (await bootstrap.PostAsJsonAsync("/api/v1/tenants", new { id, name = id })).EnsureSuccessStatusCode();
        async Task<string> Key(string role)
        {
            var response = await bootstrap.PostAsJsonAsync($"/api/v1/tenants/{id}/api-keys", new { role });
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        }
        return new TenantKeys(id, await Key("ingest"), await Key("read"), await Key("admin"));
    }
}
