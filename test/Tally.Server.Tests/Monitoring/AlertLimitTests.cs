using System.Net;
using System.Net.Http.Json;
using static Tally.Server.Tests.Monitoring.AlertTests;

namespace Tally.Server.Tests.Monitoring;

/// <summary>The per-tenant limits on channels and rules hold when the creates race each other.</summary>
public sealed class AlertLimitTests
{
    [Fact]
    public async Task CreateChannel_80Concurrent_ExactlyFiftyExist()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);

        var responses = await Task.WhenAll(Enumerable.Range(0, 80).Select(i =>
            admin.PostAsJsonAsync("/api/v1/alerts/channels", new { name = $"ops {i}", kind = "email", to = $"ops{i}@example.com" })));

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("A tenant has at most 50 alert channels.", (await refused.Json()).GetProperty("detail").GetString());
        }
        Assert.Equal(50, (await (await admin.GetAsync("/api/v1/alerts/channels")).Json()).GetArrayLength());
    }

    [Fact]
    public async Task CreateRule_130Concurrent_ExactlyHundredExist()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { kind = "email", to = "ops@example.com" });

        var responses = await Task.WhenAll(Enumerable.Range(0, 130).Select(i =>
            admin.PostAsJsonAsync("/api/v1/alerts/rules", new { name = $"at {i + 1} minutes", kind = "threshold-minutes", value = i + 1, channels = new[] { channel } })));

        Assert.Equal(100, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("A tenant has at most 100 alert rules.", (await refused.Json()).GetProperty("detail").GetString());
        }
        Assert.Equal(100, (await (await admin.GetAsync("/api/v1/alerts/rules")).Json()).GetArrayLength());
    }
}
