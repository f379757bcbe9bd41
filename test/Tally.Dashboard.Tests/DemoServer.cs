namespace Tally.Dashboard.Tests;

/// <summary>
/// One demo server for the tests of the browser collection that only read it: setting the demo up (a license, a plan,
/// six weeks of history) is the slow part, and reading it from a fresh browser context per test leaves nothing behind.
/// The clock is fake and stands still, so the demo's live activity never runs and every test sees the same ledger.
/// </summary>
public sealed class DemoServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public string ReadKey { get; private set; } = "";

    public Uri Address => Server.Address;

    public async Task InitializeAsync()
    {
        Server = await DashboardServer.StartAsync(demo: true);
        ReadKey = await Server.DemoReadKeyAsync();
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
