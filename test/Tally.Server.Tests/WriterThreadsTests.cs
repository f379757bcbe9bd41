using System.Collections.Concurrent;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Server.Tests;

/// <summary>Many tenants on few threads: writers share a fixed set of threads, and an idle tenant's meter sleeps until its next event.</summary>
public sealed class WriterThreadsTests
{
    private static object Open(string id, string user) => new { id, user, app = "sales", action = "open-app" };

    [Fact]
    public async Task FiftyTenants_AreWrittenByTheWriterThreadsAlone_OneThreadPerCoreNotPerTenant()
    {
        var threadsByTenant = new ConcurrentDictionary<string, string?>();
        await using var server = await TestServer.StartWithAsync(b => b.Services.AddSingleton<ICommitObserver>(
            new RecordingObserver((tenant, thread) => threadsByTenant[tenant] = thread)), "--Tally:WriterThreads=2");
        var tenants = new List<TenantKeys>();
        for (var i = 0; i < 50; i++)
        {
            tenants.Add(await server.TenantAsync($"t{i:D2}"));
        }

        var answers = await Task.WhenAll(tenants.Select(async t =>
        {
            using var ingest = server.Client(t.Ingest);
            return (await ingest.SendEventsAsync(Open("e1", "ann"), Open("e2", "bob")))[1].Decision();
        }));

        Assert.All(answers, a => Assert.Equal("charged", a));
        Assert.Equal(50, threadsByTenant.Count);
        // Every commit ran on one of the two writer threads: none of its own per tenant, none from the thread pool.
        Assert.Subset(new HashSet<string?> { "tally-writer-0", "tally-writer-1" }, threadsByTenant.Values.ToHashSet());
        Assert.Equal(2, server.Services.GetRequiredService<Tenants>().WriterThreadCount);
    }

    [Fact]
    public async Task IdleTenant_Sleeps_ThenWakesOnItsNextEvent_AsIfItHadNeverSlept()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000));
        using var ingest = server.Client(acme.Ingest);
        Assert.Equal("charged", (await ingest.SendEventsAsync(Open("e1", "ann")))[0].Decision());
        var tenants = server.Services.GetRequiredService<Tenants>();
        var writer = tenants.Writer("acme");
        Assert.True(writer.IsAwake);

        // Idle past Tally:SleepIdleTenantsAfter (30 min by default) on the server's clock: the sleeper lets the meter go.
        server.Time.Advance(TimeSpan.FromMinutes(2));
        await ingest.SendEventsAsync(new { id = "e2", user = "ann", app = "sales", action = "select" });
        server.Time.Advance(TimeSpan.FromMinutes(31));
        await Eventually.Until(() => !writer.IsAwake, "the idle tenant's meter to sleep");

        // Asleep, it still answers reads from its last snapshot.
        using var read = server.Client(acme.Read);
        var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
        Assert.Equal(6, summary.GetProperty("consumedMinutes").GetInt64());

        // Its next events wake it rebuilt from the ledger: the old id is still a duplicate, a new user starts a unit.
        var woken = await ingest.SendEventsAsync(Open("e1", "ann"), Open("e3", "bob"));
        Assert.Equal(["duplicate", "charged"], woken.EnumerateArray().Select(r => r.Decision()));
        Assert.True(writer.IsAwake);
        Assert.Equal(12, (await (await read.GetAsync("/api/v1/usage/summary")).Json()).GetProperty("consumedMinutes").GetInt64());
    }

    [Fact]
    public async Task Sleep_WithWorkQueuedBehindIt_KeepsTheMeter_AndLosesNothing()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var ingest = server.Client(acme.Ingest);
        var writer = server.Services.GetRequiredService<Tenants>().Writer("acme");

        // Sleep requests race with events: whatever the order, every event is decided once and recorded.
        var sends = Enumerable.Range(0, 20).Select(i => ingest.PostAsJsonAsync("/api/v1/events", new[] { Open($"e{i}", $"u{i % 5}") })).ToList();
        var sleeps = Enumerable.Range(0, 20).Select(_ => writer.SleepAsync()).ToList();
        await Task.WhenAll(sleeps);
        foreach (var send in sends)
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await send).StatusCode);
        }
        Assert.Equal(20, server.Services.GetRequiredService<ILedgerStore>().EventCount("acme"));
        var again = await ingest.SendEventsAsync(Enumerable.Range(0, 20).Select(i => Open($"e{i}", $"u{i % 5}")).ToArray());
        Assert.All(again.EnumerateArray(), r => Assert.Equal("duplicate", r.Decision()));
    }

    private sealed class RecordingObserver(Action<string, string?> record) : ICommitObserver
    {
        public void Committed(string tenant, IReadOnlyList<LedgerEntry> entries) => record(tenant, Thread.CurrentThread.Name);
    }
}
