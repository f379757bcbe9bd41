using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.Server.Demo;

/// <summary>One past event for the demo's history, with its own instant (UTC ticks).</summary>
public sealed record HistoricalEvent(string Id, long TimeTicks, string User, string Device, string App, MeterAction Action);

/// <summary>Gives a whole month of past events, in time order. The CLI passes the deterministic event generator.</summary>
public delegate IEnumerable<HistoricalEvent> DemoHistorySource(Period month);

/// <summary>
/// <c>tally serve --demo</c>: a demo tenant with a license signed by a demo vendor key kept in the data folder,
/// seats and capacity users, last month and this month so far from the event generator, and live activity.
/// Only the demo tenant trusts the demo key; every other tenant's license is verified with <c>--public-key</c>.
/// </summary>
public static class DemoSetup
{
    public const string TenantId = "demo";
    public const string TenantName = "Demo Corp (generated data)";

    /// <summary>The cast: <c>u00001</c>… users and <c>app-0001</c>… apps, as the event generator names them.</summary>
    public const int Users = 40;

    public const int Apps = 12;

    /// <summary>Generated events per month for the cast.</summary>
    public const int EventsPerMonth = 24_000;

    public static string UserName(int n) => "u" + n.ToString("D5", System.Globalization.CultureInfo.InvariantCulture);

    public static string AppName(int n) => "app-" + n.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Registers the demo: call on the builder before it is built (the demo key must be trusted before tenants load).</summary>
    public static WebApplicationBuilder AddTallyDemo(this WebApplicationBuilder builder, DemoHistorySource history)
    {
        var data = builder.Configuration[$"{TallyOptions.Section}:{nameof(TallyOptions.Data)}"] is { Length: > 0 } folder ? folder : new TallyOptions().Data;
        var vendor = DemoVendor.LoadOrCreate(Path.Combine(data, "demo"));
        builder.Services.AddSingleton(vendor);
        builder.Services.AddSingleton(new TenantKeyTrust(TenantId, vendor.Verifier));
        builder.Services.AddSingleton(new DemoState(history, vendor.Folder));
        builder.Services.AddHostedService<DemoService>();
        return builder;
    }
}

/// <summary>What the demo service shares with the host and the tests: the history source and, once ready, the read and ingest keys.</summary>
public sealed class DemoState(DemoHistorySource history, string folder)
{
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DemoHistorySource History { get; } = history;

    public string Folder { get; } = folder;

    /// <summary>Completes with the demo read key once the tenant, license, plan and history are in place.</summary>
    public Task<string> Ready => _ready.Task;

    /// <summary>The demo ingest key (also in <c>DATA/demo/ingest-key.txt</c>), set before <see cref="Ready"/> completes.</summary>
    public string? IngestKey { get; private set; }

    internal void SetReady(string readKey, string ingestKey)
    {
        IngestKey = ingestKey;
        _ready.TrySetResult(readKey);
    }

    internal void SetFailed(Exception e) => _ready.TrySetException(e);
}

/// <summary>The demo vendor key pair, generated once into <c>DATA/demo</c> and reused on every start.</summary>
public sealed class DemoVendor : IDisposable
{
    private readonly ECDsa _key;

    private DemoVendor(ECDsa key, string folder)
    {
        _key = key;
        Folder = folder;
        Verifier = new LicenseVerifier(key);
    }

    public string Folder { get; }

    public LicenseVerifier Verifier { get; }

    public static DemoVendor LoadOrCreate(string folder)
    {
        Directory.CreateDirectory(folder);
        var signing = Path.Combine(folder, "demo-signing-key.pem");
        ECDsa key;
        if (File.Exists(signing))
        {
            var imported = SigningKeys.ImportSigningKey(File.ReadAllText(signing));
            key = imported.Value
                ?? throw new InvalidOperationException($"The demo signing key '{signing}' is not usable ({imported.Error}); delete the demo folder to start over.");
        }
        else
        {
            key = SigningKeys.Generate();
            File.WriteAllText(signing, SigningKeys.ExportSigningKeyPem(key));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(signing, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            File.WriteAllText(Path.Combine(folder, "demo-public-key.pem"), SigningKeys.ExportPublicKeyPem(key));
        }
        return new DemoVendor(key, folder);
    }

    public string Issue(LicenseTerms terms) => new LicenseIssuer(_key).Issue(terms);

    public void Dispose() => _key.Dispose();
}
