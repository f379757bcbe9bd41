using System.Text.Json;
using static Tally.Server.Tests.Monitoring.AlertTests;

namespace Tally.Server.Tests.Monitoring;

/// <summary>One tenant's slow or hanging receiver must cost only that tenant: delivery is per tenant and bounded.</summary>
public sealed class AlertIsolationTests
{
    [Fact]
    public async Task Delivery_OneTenantsWebhookHangs_OtherTenantsAlertStillDelivered()
    {
        await using var hanging = HangingServer.Start();
        await using var listener = await WebhookListener.StartAsync();
        // Default timeouts and retries: the hanging delivery would hold a shared sender for well over a minute.
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets);
        var slow = await server.TenantAsync("slow");
        var fast = await server.TenantAsync("fast");
        using (var admin = server.Client(slow.Admin))
        {
            await RuleAsync(admin, "threshold-minutes", 6, await ChannelAsync(admin, new { kind = "webhook", url = hanging.Url }));
        }
        using (var admin = server.Client(fast.Admin))
        {
            await RuleAsync(admin, "threshold-minutes", 6, await ChannelAsync(admin, new { kind = "webhook", url = listener.Url }));
        }

        using var slowIngest = server.Client(slow.Ingest);
        await slowIngest.SendEventsAsync(Open("ann"));
        await hanging.WaitForConnectionAsync();   // slow's alert is now in flight and will not be answered

        using var fastIngest = server.Client(fast.Ingest);
        await fastIngest.SendEventsAsync(Open("bob"));
        var delivered = await listener.WaitForDeliveriesAsync(1, TimeSpan.FromSeconds(10));
        Assert.Equal("fast", JsonDocument.Parse(delivered.Single().Body).RootElement.GetProperty("tenant").GetString());
        using var read = server.Client(fast.Read);
        Assert.Equal("sent", (await HistoryAsync(read, 1))[0].GetProperty("status").GetString());

        // The hanging tenant's own events are still answered: the commit path never waits on alerting.
        var results = await slowIngest.SendEventsAsync(Open("cy"));
        Assert.Equal("charged", results[0].Decision());
    }

    [Fact]
    public async Task Delivery_TenantQueueFull_NewestDroppedAndRecorded()
    {
        await using var hanging = HangingServer.Start();
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets, "--Tally:Alerts:DeliveryQueueCapacity=1");
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { kind = "webhook", url = hanging.Url });
        await RuleAsync(admin, "threshold-minutes", 6, channel);
        var twelve = await RuleAsync(admin, "threshold-minutes", 12, channel);
        var eighteen = await RuleAsync(admin, "threshold-minutes", 18, channel);

        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"));
        await hanging.WaitForConnectionAsync();                   // the first alert is in flight, the queue is empty
        await ingest.SendEventsAsync(Open("bob"), Open("cy"));     // 18 minutes: two alerts for a queue of one

        using var read = server.Client(acme.Read);
        var history = await HistoryAsync(read, 1);
        Assert.Equal("dropped", history[0].GetProperty("status").GetString());
        Assert.StartsWith("queue full", history[0].GetProperty("detail").GetString());
        Assert.Contains(history[0].GetProperty("ruleId").GetString(), new[] { twelve, eighteen });
        Assert.Equal(channel, history[0].GetProperty("channelId").GetString());
    }
}
