using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tally.Server.Monitoring;
using static Tally.Server.Tests.Monitoring.AlertTests;

namespace Tally.Server.Tests.Monitoring;

/// <summary>
/// A tenant admin chooses webhook URLs and can read the alert history: these tests play a hostile one who points
/// webhooks at the server's own network. Public targets only by default, checked where the connection is made.
/// </summary>
public sealed class WebhookTargetTests
{
    private const string Refused = "refused: the target is not a public address";

    /// <summary>Every URL here names a non-public address, in the encodings .NET's <see cref="Uri"/> accepts.</summary>
    private static readonly string[] NonPublicUrls =
    [
        "http://127.0.0.1:1/x", "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://0x7f.1/",
        "http://127.0.0.1./", "http://127。0。0。1/",
        "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::127.0.0.1]/", "http://[64:ff9b::7f00:1]/",
        "http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/",
        "http://10.1.2.3/", "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.1/", "http://100.64.0.1/",
        "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://0.0.0.0/", "http://0/", "https://[::]/",
        "http://224.0.0.1/", "http://[ff02::1]/", "http://255.255.255.255/", "http://198.18.0.1/", "http://192.0.2.1/",
    ];

    /// <summary>
    /// A tenant whose one rule trips on its first unit and alerts <paramref name="channel"/>: the history row once the
    /// delivery is over, and the whole history as a read key sees it.
    /// </summary>
    private static async Task<(JsonElement Row, string Text)> AlertOnceAsync(TestServer server, object channel)
    {
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        await RuleAsync(admin, "threshold-minutes", 6, await ChannelAsync(admin, channel));
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"));
        using var read = server.Client(acme.Read);
        var row = Assert.Single(await HistoryAsync(read, 1));
        return (row, await (await read.GetAsync("/api/v1/alerts/history")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task CreateChannel_NonPublicAddressInAnyEncoding_400NamingUrl()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        var accepted = new List<string>();
        foreach (var url in NonPublicUrls)
        {
            var response = await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { kind = "webhook", url });
            if (response.StatusCode != HttpStatusCode.BadRequest)
            {
                accepted.Add($"{url} answered {(int)response.StatusCode}");
                continue;
            }
            Assert.StartsWith("url: ", (await response.Json()).GetProperty("detail").GetString());
        }
        Assert.Empty(accepted);
        Assert.Empty((await (await admin.GetAsync("/api/v1/alerts/channels")).Json()).EnumerateArray());

        // Public literals pass; so do names, which are checked where they resolve, when a delivery connects.
        foreach (var url in new[] { "https://8.8.8.8/hook", "https://[2606:4700:4700::1111]/hook", "https://hooks.example.com/tally", "http://localhost:8080/" })
        {
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { kind = "webhook", url })).StatusCode);
        }
    }

    [Fact]
    public async Task CreateChannel_PrivateTargetsAllowed_AcceptsLoopbackLiterals()
    {
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets);
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        await ChannelAsync(admin, new { kind = "webhook", url = "http://127.0.0.1:9/hook" });
        await ChannelAsync(admin, new { kind = "webhook", url = "http://[::1]/hook" });
        Assert.Equal(2, (await (await admin.GetAsync("/api/v1/alerts/channels")).Json()).GetArrayLength());
    }

    [Fact]
    public async Task Webhook_HostNameResolvingToLoopback_RefusedAtConnectAndNothingSent()
    {
        await using var listener = await WebhookListener.StartAsync();
        await using var server = await TestServer.StartAsync();
        // A name is accepted when the channel is made (it could point anywhere later: DNS rebinding); the check that
        // counts is on the address it resolves to when the delivery connects.
        var (history, text) = await AlertOnceAsync(server, new { kind = "webhook", url = $"http://localhost:{listener.Port}/hook" });
        Assert.Equal("failed", history.GetProperty("status").GetString());
        Assert.Equal(Refused, history.GetProperty("detail").GetString());
        Assert.Empty(listener.Received);
        Assert.DoesNotContain(listener.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), text);
        Assert.DoesNotContain("127.0.0.1", text);
    }

    [Fact]
    public async Task Webhook_RedirectToAnotherPort_NotFollowedAndSecondServerReceivesNothing()
    {
        await using var second = await WebhookListener.StartAsync();
        await using var first = await WebhookListener.StartAsync(redirectTo: second.Url);
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets, "--Tally:Alerts:WebhookRetryDelay=00:00:00.050");
        var (history, _) = await AlertOnceAsync(server, new { kind = "webhook", url = first.Url, secret = "test-secret-0123456789-abcd" });
        // The history row is written once the delivery is over, redirect or not: from here nothing more is sent.
        Assert.Equal("failed", history.GetProperty("status").GetString());
        Assert.Equal("answered HTTP 307: redirects are not followed", history.GetProperty("detail").GetString());
        Assert.Empty(second.Received);
        Assert.Equal([307], first.Received.Select(r => r.AnsweredStatus));   // a 3xx is final, not retried
    }

    [Fact]
    public async Task Webhook_AllowedTargetUnreachable_HistoryNamesNoAddressOrPort()
    {
        var port = Ports.Free();
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets, "--Tally:Alerts:WebhookRetries=0");
        var (history, text) = await AlertOnceAsync(server, new { kind = "webhook", url = $"http://127.0.0.1:{port}/hook" });
        Assert.Equal("failed", history.GetProperty("status").GetString());
        Assert.Equal("the webhook could not be reached", history.GetProperty("detail").GetString());
        Assert.DoesNotContain($":{port}", text);
        Assert.DoesNotContain("127.0.0.1", text);
    }
}

/// <summary>The address classification on its own: what a webhook may connect to when private targets are not allowed.</summary>
public sealed class WebhookAddressTests
{
    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("93.184.215.14")]
    [InlineData("172.32.0.1")]               // just past 172.16/12
    [InlineData("100.128.0.1")]              // just past 100.64/10
    [InlineData("2606:4700:4700::1111")]
    [InlineData("2a00:1450:4001:81b::200e")]
    [InlineData("::ffff:8.8.8.8")]           // IPv4-mapped: judged as the IPv4 inside
    [InlineData("64:ff9b::808:808")]         // NAT64 of 8.8.8.8
    public void IsPublic_GlobalUnicast_True(string address) => Assert.True(WebhookTargets.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.255.254")]
    [InlineData("0.0.0.0")]
    [InlineData("10.0.0.1")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.0.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.255")]
    [InlineData("192.0.0.1")]
    [InlineData("192.0.2.1")]
    [InlineData("198.18.0.1")]
    [InlineData("198.51.100.1")]
    [InlineData("203.0.113.1")]
    [InlineData("224.0.0.1")]
    [InlineData("239.255.255.250")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("::127.0.0.1")]              // IPv4-compatible (deprecated)
    [InlineData("64:ff9b::7f00:1")]          // NAT64 of 127.0.0.1
    [InlineData("64:ff9b:1::1")]             // local-use NAT64
    [InlineData("fc00::1")]
    [InlineData("fd12:3456:789a::1")]
    [InlineData("fe80::1")]
    [InlineData("fec0::1")]
    [InlineData("ff02::1")]
    [InlineData("2001:db8::1")]
    [InlineData("2001::1")]                  // Teredo
    [InlineData("2002:7f00:1::1")]           // 6to4 of 127.0.0.1
    [InlineData("3fff::1")]
    public void IsPublic_LoopbackPrivateLinkLocalAndReserved_False(string address) => Assert.False(WebhookTargets.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://2130706433/", "127.0.0.1")]
    [InlineData("http://0x7f000001/", "127.0.0.1")]
    [InlineData("http://0177.0.0.1/", "127.0.0.1")]
    [InlineData("http://127.1/", "127.0.0.1")]
    [InlineData("http://127.0.0.1./", "127.0.0.1")]
    [InlineData("http://127。0。0。1/", "127.0.0.1")]
    [InlineData("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1")]
    [InlineData("http://[fe80::1%25eth0]/", "fe80::1")]
    public void LiteralAddress_EveryEncodingUriAccepts_TheAddress(string url, string expected) =>
        Assert.Equal(IPAddress.Parse(expected), WebhookTargets.LiteralAddress(new Uri(url)));

    [Theory]
    [InlineData("https://hooks.example.com/tally")]
    [InlineData("http://localhost:8080/")]
    public void LiteralAddress_HostName_Null(string url) => Assert.Null(WebhookTargets.LiteralAddress(new Uri(url)));
}
