using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tally.Cli;
using Tally.Licensing;
using Tally.Metering;
using Tally.Server;
using Tally.Server.Demo;

namespace Tally.Dashboard.Tests;

/// <summary>The real server on a loopback port, over SQLite in a temp folder (deleted afterwards when it made it), on a fake clock; optionally with the demo.</summary>
public sealed class DashboardServer : IAsyncDisposable
{
    public const string BootstrapKey = "dashboard-test-bootstrap-key-0123";

    /// <summary>A Tuesday afternoon late in the month: the demo has three weeks of this month behind it.</summary>
    public static readonly DateTimeOffset Now = new(2026, 3, 24, 14, 30, 0, TimeSpan.Zero);

    private readonly WebApplication _app;
    private readonly System.Security.Cryptography.ECDsa _vendor;
    private readonly bool _ownsDir;
    private bool _stopped;

    private DashboardServer(WebApplication app, string dir, bool ownsDir, FakeTimeProvider time, System.Security.Cryptography.ECDsa vendor)
    {
        _ownsDir = ownsDir;
        _app = app;
        Dir = dir;
        Time = time;
        _vendor = vendor;
        Address = new Uri(app.Urls.First());
    }

    public string Dir { get; }

    public FakeTimeProvider Time { get; }

    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<DashboardServer> StartAsync(string? dir = null, bool demo = false)
    {
        var ownsDir = dir is null;
        dir ??= Directory.CreateTempSubdirectory("tally-dashboard-").FullName;
        var time = new FakeTimeProvider(Now);
        var vendor = SigningKeys.Generate();
        var publicKey = Path.Combine(dir, "vendor-public.pem");
        await File.WriteAllTextAsync(publicKey, SigningKeys.ExportPublicKeyPem(vendor));
        string[] args = ["--urls", "http://127.0.0.1:0", "--data", Path.Combine(dir, "data"), "--public-key", publicKey, $"--TALLY_ADMIN_KEY={BootstrapKey}"];
        var app = TallyServer.Build(args, b =>
        {
            b.Services.AddSingleton<TimeProvider>(time);
            b.Logging.ClearProviders();
            if (demo)
            {
                b.AddTallyDemo(DemoHistory.Month);
            }
        });
        await app.StartAsync();
        return new DashboardServer(app, dir, ownsDir, time, vendor);
    }

    /// <summary>Waits for the demo to be set up and returns its read key.</summary>
    public Task<string> DemoReadKeyAsync() => Services.GetRequiredService<DemoState>().Ready.WaitAsync(TimeSpan.FromSeconds(60));

    public HttpClient Client(string? key = BootstrapKey) => ApiClients.For(Address, key);

    /// <summary>Creates a tenant with a license (2 packs of 1000 minutes, 500 overage) and returns its keys.</summary>
    public async Task<Keys> TenantAsync(string id)
    {
        using var bootstrap = Client();
        var created = await ApiClients.CreateTenantAsync(bootstrap, id);
        var keys = new Keys(created.Ingest, created.Read, created.Admin);
        var terms = new LicenseTerms
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
        };
        using var admin = Client(keys.Admin);
        (await admin.PutAsJsonAsync("/api/v1/license", new { key = new LicenseIssuer(_vendor).Issue(terms) })).EnsureSuccessStatusCode();
        return keys;
    }

    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _vendor.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (!_ownsDir)
        {
            return;
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}

public sealed record Keys(string Ingest, string Read, string Admin);

public static class Json
{
    public static async Task<JsonElement> GetJsonAsync(this HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
