using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tally.Contract;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.TestSupport;

/// <summary>
/// The real <c>tally serve</c> (<c>dotnet tally.dll</c>, built next to the tests) as a child process on a fixed free
/// loopback port, over its own temp data folder, with a known bootstrap admin key (<c>TALLY_ADMIN_KEY</c>), a test
/// vendor's public key (so signed licenses install) and one tenant with a key per role. It can be killed abruptly
/// (<see cref="Kill9"/>: SIGKILL to the whole tree) and started again on the same port and data folder
/// (<see cref="RestartAsync"/>). The server runs on the real clock. Disposing kills it and deletes the folder.
/// </summary>
public sealed class RealTally : IAsyncDisposable
{
    public const string AdminKey = "real-tally-bootstrap-key-0123456789abcdef";
    public const string DefaultTenant = "acme";

    /// <summary>How the tests read the server's JSON: the contract's web defaults (camelCase, case-insensitive).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly string[] _extra;
    private readonly List<string> _earlierOutput = [];
    private ServerProcess? _server;
    private bool _disposed;

    private RealTally(string dir, int port, Vendor vendor, string[] extra)
    {
        Dir = dir;
        Port = port;
        Vendor = vendor;
        _extra = extra;
        Address = new Uri(ServerProcess.Urls(port));
    }

    /// <summary>The temp folder: the vendor's public key and <see cref="DataDir"/>.</summary>
    public string Dir { get; }

    /// <summary>The server's <c>--data</c> folder (its SQLite ledger, <c>tally.db</c>).</summary>
    public string DataDir => Path.Combine(Dir, "data");

    /// <summary>The fixed loopback port, the same after every restart.</summary>
    public int Port { get; }

    /// <summary><c>http://127.0.0.1:PORT</c>, without a trailing slash.</summary>
    public Uri Address { get; }

    /// <summary>The test vendor whose public key the server verifies licenses with.</summary>
    public Vendor Vendor { get; }

    /// <summary>The tenant created at the first start, with its ingest, read and admin keys.</summary>
    public TenantKeys Tenant { get; private set; } = new("", "", "", "");

    /// <summary>Whether the child process runs (false after <see cref="Kill9"/> until <see cref="RestartAsync"/>).</summary>
    public bool IsRunning => _server is { } s && !s.Process.HasExited;

    /// <summary>The child's process id (for a test that wants to see it gone).</summary>
    public int ProcessId => _server?.Process.Id ?? 0;

    /// <summary>Everything every start of the server printed so far (stdout and stderr), for failure messages.</summary>
    public string Output => string.Join('\n', _earlierOutput.Append(_server?.Output ?? ""));

    /// <summary>
    /// Starts <c>tally serve</c> on a new free port and temp folder, waits for <c>/health/ready</c> and creates tenant
    /// <paramref name="tenant"/>. <paramref name="extra"/> are further <c>serve</c> arguments (e.g. <c>--Tally:MaxBatchEvents=10</c>).
    /// </summary>
    public static async Task<RealTally> StartAsync(string tenant = DefaultTenant, params string[] extra)
    {
        var dir = Directory.CreateTempSubdirectory("tally-real-").FullName;
        var tally = new RealTally(dir, Ports.Free(), Vendor.Create(dir), extra);
        try
        {
            await tally.LaunchAsync();
            tally.Tenant = await tally.CreateTenantAsync(tenant);
            return tally;
        }
        catch
        {
            await tally.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client of the server (not through any proxy) sending <paramref name="key"/> as a bearer token; the caller disposes it.</summary>
    public HttpClient Client(string? key) => ApiClients.For(Address, key);

    /// <summary>Creates another tenant with the bootstrap admin key and returns its keys.</summary>
    public async Task<TenantKeys> CreateTenantAsync(string id)
    {
        using var admin = Client(AdminKey);
        return await ApiClients.CreateTenantAsync(admin, id);
    }

    /// <summary>Installs a license signed by <see cref="Vendor"/> for <paramref name="tenant"/> (default: <see cref="Tenant"/>).</summary>
    public async Task InstallLicenseAsync(LicenseTerms terms, TenantKeys? tenant = null)
    {
        using var client = Client((tenant ?? Tenant).Admin);
        using var response = await client.PutAsJsonAsync("/api/v1/license", new { key = Vendor.Issue(terms) });
        Assert.True(response.StatusCode == HttpStatusCode.OK,
            $"PUT /api/v1/license answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>
    /// Terms valid now on the real clock (from 30 days ago for a year): <paramref name="packs"/> packs of
    /// <paramref name="packMinutes"/> minutes a month (e.g. 1 pack of 60 minutes, no overage: the pool runs out after a
    /// few users), and <paramref name="overage"/> beyond it (default none).
    /// </summary>
    public static LicenseTerms Terms(int packs, int packMinutes, OverageAllowance? overage = null, CountingMode mode = CountingMode.Device)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new LicenseTerms
        {
            // One license serves one tenant: each call is a license of its own.
            LicenseId = "L-REAL-" + Guid.NewGuid().ToString("N")[..12],
            Customer = "Acme",
            IssuedAt = now.AddDays(-30),
            ValidFrom = now.AddDays(-30),
            ValidTo = now.AddYears(1),
            Mode = mode,
            Packs = packs,
            PackMinutes = packMinutes,
            Overage = overage ?? OverageAllowance.None,
        };
    }

    /// <summary>
    /// Kills the server abruptly: SIGKILL to the process and everything it started (no shutdown, no flush), then waits
    /// until it is gone. The port and data folder stay for <see cref="RestartAsync"/>.
    /// </summary>
    public void Kill9()
    {
        if (_server is not { } server)
        {
            return;
        }
        _server = null;
        _earlierOutput.Add(server.Output);
        if (!server.Process.HasExited)
        {
            server.Process.Kill(entireProcessTree: true); // SIGKILL on Linux and macOS
        }
        server.Process.WaitForExit();
        server.Dispose();
    }

    /// <summary>
    /// Starts the server again on the same port, data folder, keys and settings and waits for <c>/health/ready</c>
    /// (killing it first if it still runs). Retries while the port is briefly still held by the killed process.
    /// </summary>
    public async Task RestartAsync()
    {
        Kill9();
        await LaunchAsync();
    }

    /// <summary><c>GET /api/v1/usage/version</c> for <paramref name="tenant"/> (default: <see cref="Tenant"/>).</summary>
    public Task<LedgerVersion> VersionAsync(TenantKeys? tenant = null) => GetAsync<LedgerVersion>("/api/v1/usage/version", tenant);

    /// <summary>The events the tenant's ledger recorded (granted, denied or neither; never a duplicate).</summary>
    public async Task<long> EventsRecordedAsync(TenantKeys? tenant = null) => (await VersionAsync(tenant)).Events;

    /// <summary><c>GET /api/v1/usage/summary</c> (the current month unless <paramref name="period"/>, e.g. <c>2026-12</c>).</summary>
    public Task<UsageSummary> SummaryAsync(string? period = null, TenantKeys? tenant = null) =>
        GetAsync<UsageSummary>("/api/v1/usage/summary" + Query(period), tenant);

    /// <summary>The current month's consumed pool minutes.</summary>
    public async Task<long> ConsumedMinutesAsync(TenantKeys? tenant = null) => (await SummaryAsync(tenant: tenant)).ConsumedMinutes;

    /// <summary><c>GET /api/v1/usage/users</c>: one page (the largest the server allows) of the period's users.</summary>
    public Task<UserUsagePage> UsersAsync(string? period = null, TenantKeys? tenant = null) =>
        GetAsync<UserUsagePage>("/api/v1/usage/users?limit=1000" + (period is null ? "" : "&period=" + Uri.EscapeDataString(period)), tenant);

    /// <summary>The current month's units and minutes per user, from <see cref="UsersAsync"/>.</summary>
    public async Task<IReadOnlyDictionary<string, (long Units, long Minutes)>> UsagePerUserAsync(TenantKeys? tenant = null) =>
        (await UsersAsync(tenant: tenant)).Users.ToDictionary(u => u.User, u => (u.Units, u.Minutes), StringComparer.Ordinal);

    /// <summary>A GET with the tenant's read key, straight to the server, read as <typeparamref name="T"/>; fails the test on a non-200.</summary>
    public async Task<T> GetAsync<T>(string pathAndQuery, TenantKeys? tenant = null)
    {
        using var client = Client((tenant ?? Tenant).Read);
        using var response = await client.GetAsync(pathAndQuery);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {pathAndQuery} answered {(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<T>(body, Json) ?? throw new InvalidOperationException($"GET {pathAndQuery} answered null");
    }

    private static string Query(string? period) => period is null ? "" : "?period=" + Uri.EscapeDataString(period);

    private async Task LaunchAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var attempt = 1; ; attempt++)
        {
            var start = TallyProcess.StartInfo(["serve", "--urls", Address.ToString().TrimEnd('/'), "--data", DataDir, "--public-key", Vendor.PublicKeyFile, .. _extra]);
            start.Environment["TALLY_ADMIN_KEY"] = AdminKey;
            start.RedirectStandardInput = false;
            try
            {
                _server = await ServerProcess.StartAsync(start, Port);
                return;
            }
            catch (Exception e) when (attempt < 20 && (e.Message.Contains("already in use", StringComparison.Ordinal) || e.Message.Contains("tally serve exited (2)", StringComparison.Ordinal)))
            {
                // The killed process's listening socket can outlive it by a moment: the same port, again shortly.
                _earlierOutput.Add(e.Message);
                await Task.Delay(250);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }
        Kill9();
        _disposed = true;
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temp folder left behind is harmless; throwing would hide the test's own failure.
        }
        return ValueTask.CompletedTask;
    }
}
