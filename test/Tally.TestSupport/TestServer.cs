using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tally.Licensing;
using Tally.Metering;
using Tally.Server;

namespace Tally.TestSupport;

/// <summary>
/// A real server on a loopback port, with a fake clock, over a real SQLite file in a temp folder or, when started
/// with a connection string, a real PostgreSQL schema.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string AdminKey = "test-bootstrap-key-0123456789";
    public static readonly DateTimeOffset Start = new(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);

    private readonly WebApplication _app;
    private readonly bool _ownsDir;
    private readonly string[] _extra;
    private bool _stopped;

    private TestServer(WebApplication app, string dir, bool ownsDir, FakeTimeProvider time, Uri address, Vendor vendor, string? database, string[] extra)
    {
        _app = app;
        _extra = extra;
        Database = database;
        Dir = dir;
        _ownsDir = ownsDir;
        Time = time;
        Address = address;
        Vendor = vendor;
    }

    public string Dir { get; }

    /// <summary>The running server's services (its route table, for tests that cover every endpoint).</summary>
    public IServiceProvider Services => _app.Services;
    public FakeTimeProvider Time { get; }
    public Uri Address { get; }
    public Vendor Vendor { get; }

    /// <summary>The PostgreSQL connection string the ledger lives in; null for SQLite in <see cref="Dir"/>.</summary>
    public string? Database { get; }

    public static Task<TestServer> StartAsync(string? dir = null, FakeTimeProvider? time = null, Vendor? vendor = null, params string[] extra) =>
        StartAsync(dir, dir is null, time, vendor, null, extra);

    /// <summary>Starts on PostgreSQL when <paramref name="database"/> is a connection string, else on SQLite.</summary>
    public static Task<TestServer> StartOnAsync(string? database, FakeTimeProvider? time = null, params string[] extra) =>
        StartAsync(null, true, time, null, database, extra);

    /// <summary>Starts with <paramref name="configure"/> run after the server's own registrations (to wrap or replace a service).</summary>
    public static Task<TestServer> StartWithAsync(Action<WebApplicationBuilder> configure, params string[] extra) =>
        StartAsync(null, true, null, null, null, extra, configure);

    /// <summary>
    /// Starts on <paramref name="dir"/> (a new temp folder, deleted afterwards, when null; a given folder is kept) at
    /// <paramref name="time"/>, with <paramref name="configure"/> run after the server's own registrations.
    /// </summary>
    public static Task<TestServer> StartAsync(string? dir, FakeTimeProvider time, Action<WebApplicationBuilder> configure) =>
        StartAsync(dir, dir is null, time, null, null, [], configure);

    private static async Task<TestServer> StartAsync(string? dir, bool ownsDir, FakeTimeProvider? time, Vendor? vendor, string? database, string[] extra,
        Action<WebApplicationBuilder>? configure = null)
    {
        dir ??= Directory.CreateTempSubdirectory("tally-server-").FullName;
        time ??= new FakeTimeProvider(Start);
        vendor ??= Vendor.Create(dir);
        string[] args = ["--urls", "http://127.0.0.1:0", "--data", Path.Combine(dir, "data"), "--public-key", vendor.PublicKeyFile, $"--TALLY_ADMIN_KEY={AdminKey}",
            .. (database is null ? Array.Empty<string>() : ["--database", database]), .. extra];
        var app = TallyServer.Build(args, b =>
        {
            b.Services.AddSingleton<TimeProvider>(time);
            b.Logging.ClearProviders();
            configure?.Invoke(b);
        });
        await app.StartAsync();
        return new TestServer(app, dir, ownsDir, time, new Uri(app.Urls.First()), vendor, database, extra);
    }

    /// <summary>Stops this server and starts a new one on the same data folder, clock and settings (a clean restart).</summary>
    public async Task<TestServer> RestartAsync()
    {
        await StopAsync();
        return await StartAsync(Dir, _ownsDir, Time, Vendor, Database, _extra);
    }

    /// <summary>
    /// Waits until the server's alerting has caught up with everything the tenant's writer committed so far: every batch
    /// evaluated, every alert it fired sent and in the history (<see cref="Tally.Server.Monitoring.AlertEvaluator.IdleAsync"/>). The
    /// fact a "no second alert" assertion needs: the evaluator has seen the batch that could have fired it.
    /// </summary>
    public async Task AlertsIdleAsync(string tenant)
    {
        try
        {
            await Services.GetRequiredService<Tally.Server.Monitoring.AlertEvaluator>().IdleAsync(tenant).WaitAsync(Eventually.DefaultTimeout);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"Timed out after {Eventually.DefaultTimeout.TotalSeconds} s waiting for tenant {tenant}'s alerting to evaluate and send everything committed.", e);
        }
    }

    public HttpClient Client(string? key = AdminKey) => ApiClients.For(Address, key);

    /// <summary>Creates a tenant and returns keys for each role.</summary>
    public async Task<TenantKeys> TenantAsync(string id)
    {
        using var admin = Client();
        return await ApiClients.CreateTenantAsync(admin, id);
    }

    public async Task InstallLicenseAsync(TenantKeys tenant, LicenseTerms terms)
    {
        using var client = Client(tenant.Admin);
        var response = await client.PutAsJsonAsync("/api/v1/license", new { key = Vendor.Issue(terms) });
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    public static LicenseTerms Terms(int packs, int packMinutes, OverageAllowance? overage = null) => new()
    {
        LicenseId = "L-1",
        Customer = "Acme",
        IssuedAt = Start.AddDays(-30),
        ValidFrom = Start.AddDays(-30),
        ValidTo = Start.AddYears(1),
        Packs = packs,
        PackMinutes = packMinutes,
        Overage = overage ?? OverageAllowance.None,
    };

    /// <summary>Stops the server, leaving its folder; disposing afterwards only cleans up.</summary>
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
        if (_ownsDir)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(Dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A temp folder left behind is harmless, and throwing here would hide the exception the test itself
                // ended with (a dispose that throws replaces it).
            }
        }
    }
}

public sealed record TenantKeys(string Id, string Ingest, string Read, string Admin);

/// <summary>A vendor signing key for tests and its public key written to a file, as an operator would pass it.</summary>
public sealed class Vendor
{
    private readonly System.Security.Cryptography.ECDsa _key;

    private Vendor(System.Security.Cryptography.ECDsa key, string publicKeyFile)
    {
        _key = key;
        PublicKeyFile = publicKeyFile;
    }

    public string PublicKeyFile { get; }

    public static Vendor Create(string dir)
    {
        var key = SigningKeys.Generate();
        var file = Path.Combine(dir, "vendor-public.pem");
        File.WriteAllText(file, SigningKeys.ExportPublicKeyPem(key));
        return new Vendor(key, file);
    }

    public string Issue(LicenseTerms terms) => new LicenseIssuer(_key).Issue(terms);
}

public static class Http
{
    public static async Task<JsonElement> Json(this HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    public static async Task<JsonElement> SendEventsAsync(this HttpClient client, params object[] events)
    {
        var response = await client.PostAsJsonAsync("/api/v1/events", events);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Json();
    }

    public static string Decision(this JsonElement result) => result.GetProperty("decision").GetString()!;
}
