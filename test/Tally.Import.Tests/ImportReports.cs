using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.Import.Tests;

/// <summary>What the import must reproduce of a tenant's March, shared by the end-to-end tests on each store.</summary>
internal static class ImportReports
{
    /// <summary>Per user of March: units, minutes and apps, as the users page gives them, with the tenant kind the report names.</summary>
    public static async Task<(string Kind, string[] Users, string Summary)> Of(HttpClient client)
    {
        using var users = await client.GetAsync("/api/v1/usage/users?period=2026-03&sort=user&limit=1000");
        var page = await users.Content.ReadFromJsonAsync<JsonElement>();
        var rows = page.GetProperty("users").EnumerateArray()
            .Select(u => $"{u.GetProperty("user")} {u.GetProperty("units")} {u.GetProperty("minutes")} {u.GetProperty("apps")}").ToArray();
        var summary = await client.GetFromJsonAsync<JsonElement>("/api/v1/usage/summary?period=2026-03");
        // The pool too: the observing tenant has no license of its own, its source's overview gives it (R13).
        return (users.Headers.GetValues("Tally-Tenant-Kind").Single(), rows,
            $"units {summary.GetProperty("units")} consumed {summary.GetProperty("consumedMinutes")} included {summary.GetProperty("includedMinutes")} " +
            $"limit {summary.GetProperty("limitMinutes")} run-rate {summary.GetProperty("runRate").GetProperty("status")}");
    }
}
