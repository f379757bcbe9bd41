using Microsoft.Extensions.DependencyInjection;

namespace Tally.Client.Tests;

/// <summary>
/// A <see cref="TallyClient"/> as an application gets it (<c>AddTallyClient</c>, HttpClientFactory, the resilience
/// handler), pointed at a real server or at a <see cref="FaultProxy"/> in front of one, with delays short enough for tests.
/// </summary>
internal sealed class ClientHost : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private ClientHost(ServiceProvider services)
    {
        _services = services;
        Tally = services.GetRequiredService<TallyClient>();
    }

    public TallyClient Tally { get; }

    public static ClientHost Start(Uri address, string key, string bufferPath, Action<TallyClientOptions>? tweak = null) =>
        new(new ServiceCollection().AddLogging().AddTallyClient(o =>
        {
            o.BaseAddress = address;
            o.ApiKey = key;
            o.BufferPath = bufferPath;
            o.Linger = TimeSpan.FromMilliseconds(50);
            o.RetryDelay = TimeSpan.FromMilliseconds(50);
            o.MaxResendDelay = TimeSpan.FromMilliseconds(400);
            o.AccessTimeout = TimeSpan.FromSeconds(30); // a loaded machine may answer slowly; offline here means unreachable, not slow
            o.ClientName = "test-client";
            tweak?.Invoke(o);
        }).BuildServiceProvider());

    /// <summary>Flushes until the buffer is empty and Tally has every offline record: what a running client does by itself, sooner.</summary>
    public async Task DrainAsync()
    {
        await Eventually.Until(async () =>
        {
            await Tally.FlushAsync();
            var status = Tally.Status;
            return status is { Online: true, Buffered: 0, OfflineRecords: 0 };
        }, $"the client to deliver its buffer and offline report ({Tally.Status})");
    }

    public async ValueTask DisposeAsync() => await _services.DisposeAsync();
}
