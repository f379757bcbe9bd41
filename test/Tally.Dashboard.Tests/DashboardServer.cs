using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tally.Cli;
using Tally.Licensing;
using Tally.Metering;
using Tally.Server.Demo;

namespace Tally.Dashboard.Tests;

/// <summary>The dashboard tests' server: the shared <see cref="TestServer"/> at the dashboard's instant, optionally with the demo.</summary>
public static class DashboardServer
{
    /// <summary>A Tuesday afternoon late in the month: the demo has three weeks of this month behind it.</summary>
    public static readonly DateTimeOffset Now = new(2026, 3, 24, 14, 30, 0, TimeSpan.Zero);

    /// <summary>Starts over SQLite in <paramref name="dir"/> (a temp folder, deleted afterwards, when null) on a fake clock at <see cref="Now"/>.</summary>
    public static Task<TestServer> StartAsync(string? dir = null, bool demo = false) =>
        TestServer.StartAsync(dir, new FakeTimeProvider(Now), b =>
        {
            if (demo)
            {
                b.AddTallyDemo(DemoHistory.Month);
            }
        });

    /// <summary>Waits for the demo to be set up and returns its read key.</summary>
    public static Task<string> DemoReadKeyAsync(this TestServer server) =>
        server.Services.GetRequiredService<DemoState>().Ready.WaitAsync(TimeSpan.FromSeconds(60));

    /// <summary>Creates a tenant with a license (2 packs of 1000 minutes, 500 overage; one Professional and two Analyzer seats) and returns its keys.</summary>
    public static async Task<TenantKeys> LicensedTenantAsync(this TestServer server, string id)
    {
        var keys = await server.TenantAsync(id);
        await server.InstallLicenseAsync(keys, new LicenseTerms
        {
            LicenseId = "L-DASH",
            Customer = "Dash Ltd",
            IssuedAt = Now.AddDays(-60),
            ValidFrom = Now.AddDays(-60),
            ValidTo = Now.AddYears(1),
            Packs = 2,
            PackMinutes = 1000,
            Overage = OverageAllowance.Capped(500),
            ProfessionalSeats = 1,
            AnalyzerSeats = 2,
        });
        return keys;
    }

    public static async Task<JsonElement> GetJsonAsync(this HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
