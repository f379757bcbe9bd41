using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tally.Server.Tests.Monitoring;

public sealed class AlertTests
{
    /// <summary>
    /// The loopback receivers of these tests are not public addresses, which Tally refuses by default: the tests
    /// that deliver to them turn the on-premises option on, explicitly.
    /// </summary>
    internal const string AllowPrivateTargets = "--Tally:Alerts:AllowPrivateWebhookTargets=true";

    internal static object Open(string user) => new { user, app = "sales", action = "open-app" };

    internal static async Task<string> ChannelAsync(HttpClient admin, object body)
    {
        var response = await admin.PostAsJsonAsync("/api/v1/alerts/channels", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Json()).GetProperty("id").GetString()!;
    }

    internal static async Task<string> RuleAsync(HttpClient admin, string kind, double? value, params string[] channels)
    {
        var response = await admin.PostAsJsonAsync("/api/v1/alerts/rules", new { name = kind, kind, value, channels });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Json()).GetProperty("id").GetString()!;
    }

    /// <summary>Polls the history until <paramref name="count"/> rows are there (a row is written once a delivery ended), then asserts exactly that many.</summary>
    internal static async Task<List<JsonElement>> HistoryAsync(HttpClient read, int count)
    {
        var rows = await Eventually.Until(
            async () => (await (await read.GetAsync("/api/v1/alerts/history")).Json()).GetProperty("alerts").EnumerateArray().ToList(),
            rows => rows.Count >= count, $"{count} rows in the alert history", describe: rows => $"{rows.Count} rows");
        Assert.Equal(count, rows.Count);
        return rows;
    }

    [Fact]
    public async Task Email_ThresholdPercent_DeliveredToRealSmtpServer()
    {
        using var sink = await SmtpSink.StartAsync();
        await using var server = await TestServer.StartAsync(null, null, null,
            "--Tally:Alerts:Smtp:Host=127.0.0.1", $"--Tally:Alerts:Smtp:Port={sink.Port}", "--Tally:Alerts:Smtp:Security=None",
            "--Tally:Alerts:Smtp:From=tally@example.org");
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 100));
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { name = "ops", kind = "email", to = "ops@example.com" });
        await RuleAsync(admin, "threshold-percent", 10, channel);

        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"));
        await ingest.SendEventsAsync(Open("bob"));

        using var read = server.Client(acme.Read);
        var history = await HistoryAsync(read, 1);
        Assert.Equal("sent", history[0].GetProperty("status").GetString());
        Assert.Equal("email", history[0].GetProperty("channelKind").GetString());
        var message = await sink.WaitForMessageAsync("Tenant: acme. Period: 2026-03.");
        Assert.Contains("X-Rcpt-Args: <ops@example.com>", message);
        Assert.Contains("X-Mail-Args: <tally@example.org>", message);
        Assert.Contains("Subject: [Tally] acme: 10 % of the included minutes used (2026-03)", message);
        Assert.Contains("12 of 100 included minutes are used (12 %).", message);
    }

    [Fact]
    public async Task Webhook_FirstAnswer500_RetriedAndSignedOverExactBody()
    {
        await using var listener = await WebhookListener.StartAsync(failures: 1);
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets, "--Tally:Alerts:WebhookRetryDelay=00:00:00.050");
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        const string secret = "test-secret-0123456789-abcd";
        var created = await (await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { kind = "webhook", url = listener.Url, secret })).Json();
        Assert.Equal(secret, created.GetProperty("secret").GetString());
        var channel = created.GetProperty("id").GetString()!;
        var listed = (await (await admin.GetAsync("/api/v1/alerts/channels")).Json())[0];
        Assert.False(listed.TryGetProperty("secret", out _));
        Assert.Equal("…abcd", listed.GetProperty("secretHint").GetString());
        var rule = await RuleAsync(admin, "threshold-minutes", 6, channel);

        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"));
        var delivered = (await listener.WaitForDeliveriesAsync(1)).Single();

        var attempts = listener.Received.ToList();
        Assert.Equal([500, 200], attempts.Select(a => a.AnsweredStatus));
        Assert.Equal(attempts[0].Body, attempts[1].Body);
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), delivered.Body));
        Assert.Equal(expected, delivered.Signature);
        Assert.Equal("application/json", delivered.ContentType?.Split(';')[0]);
        var payload = JsonDocument.Parse(delivered.Body).RootElement;
        Assert.Equal("acme", payload.GetProperty("tenant").GetString());
        Assert.Equal(rule, payload.GetProperty("rule").GetProperty("id").GetString());
        Assert.Equal("threshold-minutes", payload.GetProperty("rule").GetProperty("kind").GetString());
        Assert.Equal("2026-03", payload.GetProperty("period").GetString());
        Assert.Equal(6, payload.GetProperty("figures").GetProperty("consumedMinutes").GetInt64());

        using var read = server.Client(acme.Read);
        var history = await HistoryAsync(read, 1);
        Assert.Equal("sent", history[0].GetProperty("status").GetString());
        Assert.Equal(rule, history[0].GetProperty("ruleId").GetString());
    }

    [Fact]
    public async Task FireOnce_AcrossRestart_ConditionStillTrue_NoSecondAlert()
    {
        await using var listener = await WebhookListener.StartAsync();
        var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets);
        try
        {
            var acme = await server.TenantAsync("acme");
            using (var admin = server.Client(acme.Admin))
            {
                var channel = await ChannelAsync(admin, new { kind = "webhook", url = listener.Url });
                var first = await RuleAsync(admin, "threshold-minutes", 6, channel);
                using var ingest = server.Client(acme.Ingest);
                await ingest.SendEventsAsync(Open("ann"));
                await listener.WaitForDeliveriesAsync(1);
                using (var read1 = server.Client(acme.Read))
                {
                    await HistoryAsync(read1, 1);
                }

                server = await server.RestartAsync();
                using var admin2 = server.Client(acme.Admin);
                // A second rule made after the restart is the witness that the evaluator ran after the next event.
                var second = await RuleAsync(admin2, "threshold-minutes", 12, channel);
                using var ingest2 = server.Client(acme.Ingest);
                await ingest2.SendEventsAsync(Open("bob"));
                await listener.WaitForDeliveriesAsync(2);
                // The fact behind "no second alert for the first rule": the evaluator has processed bob's batch.
                await server.AlertsIdleAsync(acme.Id);

                var rules = listener.Received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("rule").GetProperty("id").GetString()).ToList();
                Assert.Equal([first, second], rules);
                using var read = server.Client(acme.Read);
                var history = await HistoryAsync(read, 2);
                Assert.Single(history, h => h.GetProperty("ruleId").GetString() == first);
            }
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Rules_UserMinutesAndLockout_OncePerSubjectAndPeriod()
    {
        await using var listener = await WebhookListener.StartAsync();
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets);
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 18));
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { kind = "webhook", url = listener.Url });
        var perUser = await RuleAsync(admin, "user-minutes", 12, channel);
        var lockout = await RuleAsync(admin, "lockout", null, channel);

        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(Open("ann"));
        server.Time.Advance(TimeSpan.FromMinutes(6));
        await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "select" });   // ann: 12 minutes
        var first = JsonDocument.Parse((await listener.WaitForDeliveriesAsync(1))[0].Body).RootElement;
        Assert.Equal(perUser, first.GetProperty("rule").GetProperty("id").GetString());
        Assert.Equal("ann", first.GetProperty("subject").GetString());

        var results = await ingest.SendEventsAsync(Open("bob"), Open("cy"), Open("dan"));      // 18 used, cy and dan denied
        Assert.Equal("denied", results[2].Decision());
        server.Time.Advance(TimeSpan.FromMinutes(1));
        await ingest.SendEventsAsync(Open("eve"));                                             // denied again, later batch
        var second = JsonDocument.Parse((await listener.WaitForDeliveriesAsync(2))[1].Body).RootElement;
        Assert.Equal(lockout, second.GetProperty("rule").GetProperty("id").GetString());

        using var read = server.Client(acme.Read);
        // Eve's denial was evaluated (and anything it fired sent) before counting: a second lockout alert would be here.
        await server.AlertsIdleAsync(acme.Id);
        var history = await HistoryAsync(read, 2);
        Assert.Equal(2, listener.Received.Count);
        Assert.All(history, h => Assert.Equal("sent", h.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Rules_AboveRunRateForecastRunOutAndOverage_EachFireOnce()
    {
        await using var listener = await WebhookListener.StartAsync();
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets);
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 90, Tally.Metering.OverageAllowance.Capped(60)));
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { kind = "webhook", url = listener.Url });
        var aboveRunRate = await RuleAsync(admin, "above-run-rate", 50, channel);
        var forecast = await RuleAsync(admin, "forecast-run-out", null, channel);
        var overage = await RuleAsync(admin, "overage-started", null, channel);

        using var ingest = server.Client(acme.Ingest);
        // 10 March 09:00: 225 of 744 hours gone, 27.2 of 90 minutes expected; 60 used is +120 %. With no history
        // yet the forecast runs at the period's pace (60 ÷ 225 h), passing 90 long before April.
        await ingest.SendEventsAsync([.. Enumerable.Range(1, 10).Select(i => Open($"u{i}"))]);
        var firstTwo = await listener.WaitForDeliveriesAsync(2);
        server.Time.Advance(TimeSpan.FromMinutes(1));
        await ingest.SendEventsAsync([.. Enumerable.Range(11, 6).Select(i => Open($"u{i}"))]);     // 96 > 90: overage
        await listener.WaitForDeliveriesAsync(3);
        // Both batches evaluated and their alerts sent: a rule firing twice would show as a fourth delivery now.
        await server.AlertsIdleAsync(acme.Id);

        var kinds = listener.Received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("rule").GetProperty("id").GetString()).ToList();
        // Rules made at the same instant are checked in id order: compare the first batch's two as a set.
        Assert.Equal(new[] { aboveRunRate, forecast }.Order(StringComparer.Ordinal), kinds.Take(2).Order(StringComparer.Ordinal));
        Assert.Equal(overage, kinds[2]);
        Assert.Equal(3, kinds.Count);
        var forecastBody = firstTwo.Single(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("rule").GetProperty("id").GetString() == forecast);
        var forecastFigures = JsonDocument.Parse(forecastBody.Body).RootElement.GetProperty("figures").GetProperty("forecast");
        Assert.Equal("projected", forecastFigures.GetProperty("includedRunOutOutcome").GetString());
    }

    [Fact]
    public async Task Rules_IdleReloadMinutesAndPercent_FireOncePerPeriod_WhenReloadsChargeIdleUsers()
    {
        await using var listener = await WebhookListener.StartAsync();
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets);
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 1000));
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { kind = "webhook", url = listener.Url });
        var minutes = await RuleAsync(admin, "idle-reload-minutes", 12, channel);
        var percent = await RuleAsync(admin, "idle-reload-percent", 1.8, channel);     // 18 of 1,000 included

        using var ingest = server.Client(acme.Ingest);
        // ann opens sales at 09:00 and her client sends only heartbeats after; bob works in it every ten minutes.
        await ingest.SendEventsAsync(Open("ann"), Open("bob"));
        var hour = 0;
        for (var minute = 10; minute <= 240; minute += 10)
        {
            server.Time.Advance(TimeSpan.FromMinutes(10));
            await ingest.SendEventsAsync(new { user = "ann", action = "heartbeat" }, new { user = "bob", app = "sales", action = "select" });
            if (minute % 60 != 0)
            {
                continue;
            }
            hour++;
            await ingest.SendEventsAsync(new { app = "sales", action = "scheduled-reload" });  // ann: idle, 6 minutes each
            await server.AlertsIdleAsync(acme.Id);
            // 6 idle minutes after the first reload: nothing yet; 12 after the second: the minutes rule; 18: the percent rule.
            Assert.Equal(hour switch { 1 => 0, 2 => 1, _ => 2 }, listener.Received.Count);
        }
        var bodies = listener.Received.Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
        Assert.Equal([minutes, percent], bodies.Select(b => b.GetProperty("rule").GetProperty("id").GetString()));
        Assert.Contains("charged 12 minutes this period to users who had not engaged for 30 minutes", bodies[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Contains("18 minutes this period, 1.8 % of the 1,000 included minutes", bodies[1].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.All(bodies, b => Assert.Equal("2026-03", b.GetProperty("period").GetString()));

        // A rule needs its value; the percent one is a share of the included minutes.
        var missing = await admin.PostAsJsonAsync("/api/v1/alerts/rules", new { kind = "idle-reload-minutes", channels = new[] { channel } });
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("idle-reload-percent", (await missing.Json()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_ForecastRunOutPessimistic_DeliveredWithItsBoundAndRange()
    {
        await using var listener = await WebhookListener.StartAsync();
        await using var server = await TestServer.StartAsync(null, null, null, AllowPrivateTargets);
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 90));
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { kind = "webhook", url = listener.Url });
        var created = await admin.PostAsJsonAsync("/api/v1/alerts/rules", new { kind = "forecast-run-out", bound = "pessimistic", channels = new[] { channel } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("pessimistic", (await created.Json()).GetProperty("bound").GetString());
        // A rule made without a bound shows the default it fires on.
        var expected = await RuleAsync(admin, "forecast-run-out", null, channel);
        var listed = (await (await admin.GetAsync("/api/v1/alerts/rules")).Json()).EnumerateArray().ToList();
        Assert.Equal("expected", listed.Single(r => r.GetProperty("id").GetString() == expected).GetProperty("bound").GetString());

        using var ingest = server.Client(acme.Ingest);
        // 60 of 90 minutes by 10 March: both run-outs are projected inside March (the range is at least the point).
        await ingest.SendEventsAsync([.. Enumerable.Range(1, 10).Select(i => Open($"u{i}"))]);
        var received = await listener.WaitForDeliveriesAsync(2);
        await server.AlertsIdleAsync(acme.Id);
        var pessimistic = received.Select(r => JsonDocument.Parse(r.Body).RootElement)
            .Single(b => b.GetProperty("rule").GetProperty("bound").GetString() == "pessimistic");
        Assert.Contains("At the 10th percentile", pessimistic.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Contains("between", pessimistic.GetProperty("text").GetString(), StringComparison.Ordinal);
        var range = pessimistic.GetProperty("figures").GetProperty("forecast").GetProperty("range");
        Assert.Equal("projected", range.GetProperty("includedRunOutEarliestOutcome").GetString());
    }

    [Fact]
    public async Task Rules_Bound_OnlyForForecastRunOut_AndOnlyKnownValues()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var admin = server.Client(acme.Admin);
        var channel = await ChannelAsync(admin, new { kind = "email", to = "a@example.com" });
        await admin.PostExpectingProblemAsync("/api/v1/alerts/rules", new { kind = "threshold-percent", value = 80, bound = "pessimistic", channels = new[] { channel } },
            HttpStatusCode.BadRequest, "bound: only forecast-run-out takes a bound", field: "bound");
        await admin.PostExpectingProblemAsync("/api/v1/alerts/rules", new { kind = "forecast-run-out", bound = "p10", channels = new[] { channel } },
            HttpStatusCode.BadRequest, "bound: must be one of expected, pessimistic.", field: "bound");
        Assert.Empty((await (await admin.GetAsync("/api/v1/alerts/rules")).Json()).EnumerateArray());
    }

    [Fact]
    public async Task AdminEndpoints_ValidateAndScopeToTenant()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        var other = await server.TenantAsync("other");
        using var admin = server.Client(acme.Admin);
        await admin.PostExpectingProblemAsync("/api/v1/alerts/channels", new { kind = "sms", to = "1" }, HttpStatusCode.BadRequest, "kind: must be email or webhook.");
        await admin.PostExpectingProblemAsync("/api/v1/alerts/channels", new { kind = "email", to = "not-an-address" }, HttpStatusCode.BadRequest, "to: one to twenty e-mail addresses");
        await admin.PostExpectingProblemAsync("/api/v1/alerts/channels", new { kind = "webhook", url = "ftp://x" }, HttpStatusCode.BadRequest, "url: an absolute http or https URL.");
        var channel = await ChannelAsync(admin, new { kind = "email", to = "a@example.com, b@example.com" });
        await admin.PostExpectingProblemAsync("/api/v1/alerts/rules", new { kind = "threshold-percent", channels = new[] { channel } }, HttpStatusCode.BadRequest,
            "value: a positive number is required for threshold-percent");
        await admin.PostExpectingProblemAsync("/api/v1/alerts/rules", new { kind = "lockout", channels = new[] { "ch_nope" } }, HttpStatusCode.BadRequest,
            "channels: every id must be one of this tenant's channels.");
        var rule = await RuleAsync(admin, "overage-started", null, channel);

        using var otherAdmin = server.Client(other.Admin);
        Assert.Empty((await (await otherAdmin.GetAsync("/api/v1/alerts/rules")).Json()).EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await otherAdmin.DeleteAsync($"/api/v1/alerts/rules/{rule}")).StatusCode);
        using var read = server.Client(acme.Read);
        Assert.Equal(HttpStatusCode.Forbidden, (await read.GetAsync("/api/v1/alerts/rules")).StatusCode);

        Assert.Equal(HttpStatusCode.Conflict, (await admin.DeleteAsync($"/api/v1/alerts/channels/{channel}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/alerts/rules/{rule}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/alerts/channels/{channel}")).StatusCode);
        Assert.Empty((await (await admin.GetAsync("/api/v1/alerts/channels")).Json()).EnumerateArray());
    }
}
