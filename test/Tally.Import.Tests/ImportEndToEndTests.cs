using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tally.Import.Tests.QlikCloud;

namespace Tally.Import.Tests;

/// <summary>
/// The import end to end (rule R13): one real Tally server plays the Qlik Cloud tenant (its licenses API), a second one
/// observes it through a qlik-cloud source added with the API. After a pull, the observing tenant's reports equal the
/// source's, unit for unit; pulling again adds nothing; a refused key stops the source with a clear status.
/// </summary>
public sealed class ImportEndToEndTests : IAsyncLifetime
{
    private TallyUpstream _upstream = null!;
    private TestServer _observer = null!;
    private TenantKeys _keys = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TallyUpstream.StartAsync();
        // Loopback is a private address: an operator allows it for an on-premises source, as here.
        // Chunks of 7 records: a pull of the source's 31 is five chunks, one written while the next is read.
        _observer = await TestServer.StartAsync(null, null, null, "--Tally:Import:AllowPrivateTargets=true", "--Tally:Import:RetryDelay=00:00:00.020",
            "--Tally:Import:AttemptTimeout=00:00:05", "--Tally:Import:ChunkRecords=7");
        _keys = await _observer.TenantAsync("obs");
    }

    public async Task DisposeAsync()
    {
        await _observer.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<HttpResponseMessage> AddSource(string id, string apiKey, Uri? via = null) =>
        await _observer.Client(_keys.Admin).PostAsJsonAsync("/api/v1/sources", new { id, kind = "qlik-cloud", url = (via ?? _upstream.Address).ToString(), apiKey });

    private async Task<JsonElement> Pull(string id)
    {
        using var response = await _observer.Client(_keys.Admin).PostAsync($"/api/v1/sources/{id}/pull", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static Task<(string Kind, string[] Users, string Summary)> Reports(HttpClient client) => ImportReports.Of(client);

    [Fact]
    public async Task QlikCloudSource_PulledOnce_ReportsEqualTheSourceUnitForUnit_AndAgainAddsNothing()
    {
        using var added = await AddSource("cloud", _upstream.Keys.Read);
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.DoesNotContain(_upstream.Keys.Read, await added.Content.ReadAsStringAsync());

        var first = await Pull("cloud");
        Assert.Equal((_upstream.Units.Count, 0, JsonValueKind.Null), (first.GetProperty("added").GetInt32(), first.GetProperty("repeated").GetInt32(),
            first.TryGetProperty("failure", out var failure) ? failure.ValueKind : JsonValueKind.Null));

        var source = await Reports(_upstream.Server.Client(_upstream.Keys.Read));
        var observed = await Reports(_observer.Client(_keys.Read));
        Assert.Equal(("metered", "observed"), (source.Kind, observed.Kind));
        Assert.Equal(_upstream.Units.Count, source.Users.Length);
        Assert.Equal(source.Users, observed.Users);
        Assert.Equal(source.Summary, observed.Summary);

        // Qlik's own shape of the observed units: the same users, apps, sessions, ends, minutes and capacity as the source's.
        static async Task<string[]> Consumption(HttpClient client) =>
            [.. (await client.GetFromJsonAsync<JsonElement>("/api/v1/licenses/consumption?limit=200")).GetProperty("data").EnumerateArray()
                .Select(r => $"{r.GetProperty("userId")} {r.GetProperty("appId")} {r.GetProperty("sessionId")} {r.GetProperty("endTime")} {r.GetProperty("minutesUsed")} {r.GetProperty("capacityUsed")} {r.GetProperty("licenseUsage")}")
                .Order(StringComparer.Ordinal)];
        Assert.Equal(await Consumption(_upstream.Server.Client(_upstream.Keys.Read)), await Consumption(_observer.Client(_keys.Read)));

        // Qlik's overview: the observing tenant shows its source's pool and this month's minutes.
        static async Task<string> TimeAllotment(HttpClient client) =>
            (await client.GetFromJsonAsync<JsonElement>("/api/v1/licenses/overview")).GetProperty("allotments").EnumerateArray()
                .Single(a => a.GetProperty("name").GetString() == "analyzer_time") is var a
                ? $"{a.GetProperty("units")} {a.GetProperty("unitsUsed")} {a.GetProperty("overage")}" : "";
        Assert.Equal(await TimeAllotment(_upstream.Server.Client(_upstream.Keys.Read)), await TimeAllotment(_observer.Client(_keys.Read)));

        // Again: every record is one the ledger holds; nothing is counted twice.
        var second = await Pull("cloud");
        Assert.Equal((0, _upstream.Units.Count), (second.GetProperty("added").GetInt32(), second.GetProperty("repeated").GetInt32()));
        Assert.Equal(source.Users, (await Reports(_observer.Client(_keys.Read))).Users);

        var status = await _observer.Client(_keys.Admin).GetFromJsonAsync<JsonElement>("/api/v1/sources/cloud");
        Assert.Equal(("ok", _upstream.Units.Count, _upstream.Units.Count, true), (status.GetProperty("status").GetProperty("state").GetString(),
            status.GetProperty("status").GetProperty("records").GetInt32(), status.GetProperty("status").GetProperty("repeats").GetInt32(),
            status.GetProperty("hasSecret").GetBoolean()));

        // An observing tenant meters nothing of its own (R13).
        using var events = await _observer.Client(_keys.Ingest).PostAsJsonAsync("/api/v1/events", new[] { new { user = "x", app = "a", action = "open-app" } });
        Assert.Equal(HttpStatusCode.Conflict, events.StatusCode);

        // Without its source it is metered again, with no pool but one of its own (it has no license); the import stays.
        Assert.Equal(HttpStatusCode.NoContent, (await _observer.Client(_keys.Admin).DeleteAsync("/api/v1/sources/cloud")).StatusCode);
        using var metered = await _observer.Client(_keys.Read).GetAsync("/api/v1/usage/summary?period=2026-03");
        var summary = await metered.Content.ReadFromJsonAsync<JsonElement>();
        var sourceUnits = (await _upstream.Server.Client(_upstream.Keys.Read).GetFromJsonAsync<JsonElement>("/api/v1/usage/summary?period=2026-03"))
            .GetProperty("units").GetInt32();
        Assert.Equal(("metered", false, sourceUnits), (metered.Headers.GetValues("Tally-Tenant-Kind").Single(),
            summary.TryGetProperty("includedMinutes", out _), summary.GetProperty("units").GetInt32()));
        Assert.Equal(HttpStatusCode.OK, (await _observer.Client(_keys.Ingest).PostAsJsonAsync("/api/v1/events", new[] { new { user = "x", app = "a", action = "open-app" } })).StatusCode);
    }

    [Fact]
    public async Task QlikCloudSource_Pulled_ItsSeatsAreTheTenantsSeats_AndTheSeatAdviceIsTheSources()
    {
        (await AddSource("cloud", _upstream.Keys.Read)).Dispose();
        await Pull("cloud");

        // Qlik's assignments of the observing tenant are its source's, as the pull read them (R13), in every sort.
        static async Task<string[]> Assignments(HttpClient client, string sort) =>
            [.. (await client.GetFromJsonAsync<JsonElement>($"/api/v1/licenses/assignments?sort={sort}&limit=100")).GetProperty("data").EnumerateArray()
                .Select(a => $"{a.GetProperty("subject")} {a.GetProperty("type")} {a.GetProperty("created")}")];
        foreach (var sort in new[] { "subject", "-type", "created" })
        {
            var held = await Assignments(_upstream.Server.Client(_upstream.Keys.Read), sort);
            Assert.Equal(3, held.Length);
            Assert.Equal(held, await Assignments(_observer.Client(_keys.Read), sort));
        }
        static async Task<string> SeatAllotments(HttpClient client) =>
            string.Join(", ", (await client.GetFromJsonAsync<JsonElement>("/api/v1/licenses/overview")).GetProperty("allotments").EnumerateArray()
                .Where(a => a.GetProperty("usageClass").GetString() == "assigned")
                .Select(a => $"{a.GetProperty("name")} {a.GetProperty("units")} {a.GetProperty("unitsUsed")}"));
        Assert.Equal("professional 2 2, analyzer 1 1", await SeatAllotments(_observer.Client(_keys.Read)));
        Assert.Equal(await SeatAllotments(_upstream.Server.Client(_upstream.Keys.Read)), await SeatAllotments(_observer.Client(_keys.Read)));

        // The seat advisor sees the source's seats and minutes: the same advice as the source's own, user for user.
        // At 0.5 a seat against 100 for 600 minutes, each capacity user's 6 minutes (1.0) are dearer than a seat.
        static async Task<string> Advice(HttpClient client)
        {
            var advice = await client.GetFromJsonAsync<JsonElement>("/api/v1/advice/seats?seatPrice=0.5&packPrice=100&packMinutes=600&period=2026-03");
            return string.Join(", ", advice.GetProperty("recommendations").EnumerateArray()
                .Select(r => $"{r.GetProperty("user")} {r.GetProperty("from")}>{r.GetProperty("to")} {r.GetProperty("monthlyMinutes")}"));
        }
        var sourceAdvice = await Advice(_upstream.Server.Client(_upstream.Keys.Read));
        Assert.Equal(TallyUpstream.CapacityUsers, sourceAdvice.Split(", ").Count(r => r.Contains("capacity>analyzer 6", StringComparison.Ordinal)));
        Assert.Equal(sourceAdvice, await Advice(_observer.Client(_keys.Read)));

        // When u00 takes the analyzer seat in the source, the next pull reads it: u00 holds a seat, so no move is advised.
        using var upstreamAdmin = _upstream.Server.Client(_upstream.Keys.Admin);
        Assert.Equal(207, (int)(await upstreamAdmin.PostAsJsonAsync("/api/v1/licenses/assignments/actions/delete",
            new { delete = new[] { new { subject = "ann", type = "analyzer" } } })).StatusCode);
        Assert.Equal(207, (int)(await upstreamAdmin.PostAsJsonAsync("/api/v1/licenses/assignments/actions/add",
            new { add = new[] { new { subject = "u00", type = "analyzer" } } })).StatusCode);
        await Pull("cloud");
        var advised = await Advice(_observer.Client(_keys.Read));
        Assert.DoesNotContain("u00 ", advised, StringComparison.Ordinal);
        Assert.Equal(TallyUpstream.CapacityUsers - 1, advised.Split(", ").Count(r => r.Contains("capacity>analyzer 6", StringComparison.Ordinal)));
        Assert.Contains("u00 analyzer", string.Join(", ", await Assignments(_observer.Client(_keys.Read), "subject")), StringComparison.Ordinal);

        // Seats are assigned in the source, not here: Qlik's assignment actions are refused with Qlik's error shape.
        using var add = await _observer.Client(_keys.Admin).PostAsJsonAsync("/api/v1/licenses/assignments/actions/add",
            new { add = new[] { new { subject = "u00", type = "analyzer" } } });
        Assert.Equal(HttpStatusCode.Conflict, add.StatusCode);
        Assert.Equal("LICENSES-912", (await add.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0].GetProperty("code").GetString());

        // And they outlive a restart: read back from the source's stored status, not only held in memory.
        _observer = await _observer.RestartAsync();
        Assert.Equal(await Assignments(_upstream.Server.Client(_upstream.Keys.Read), "subject"), await Assignments(_observer.Client(_keys.Read), "subject"));
    }

    [Fact]
    public async Task ThroughANetworkThatFails_NothingIsLostAndNothingCountsTwice()
    {
        var upstreamIds = (await _upstream.Server.Client(_upstream.Keys.Read).GetFromJsonAsync<JsonElement>("/api/v1/licenses/consumption?limit=200"))
            .GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList();
        await using var proxy = await FaultProxy.StartAsync(_upstream.Address);
        // Two records come late: left out of the page they belong to the first time it is served.
        proxy.HoldBack(upstreamIds[3], upstreamIds[^2]);
        // The overview: a 429, then through. The one consumption page: a 500, a reset connection, then through. (A page
        // served twice is the source client's test: the server asks for Qlik's largest page, 200, so this is one page.)
        proxy.Script(new Fault.TooManyRequests(0), new Fault.Pass(), new Fault.ServerError(500), new Fault.Reset(), new Fault.Pass());
        (await AddSource("cloud", _upstream.Keys.Read, via: proxy.Address)).Dispose();

        var first = await Pull("cloud");
        Assert.False(first.TryGetProperty("failure", out _), first.ToString());
        Assert.Equal(upstreamIds.Count - 2, first.GetProperty("added").GetInt32());
        Assert.Equal(0, proxy.Pending);

        // The next pull starts before the watermark (the overlap) and finds the late two; the rest are repeats.
        var second = await Pull("cloud");
        Assert.Equal((2, upstreamIds.Count - 2), (second.GetProperty("added").GetInt32(), second.GetProperty("repeated").GetInt32()));
        Assert.Equal((await Reports(_upstream.Server.Client(_upstream.Keys.Read))).Users, (await Reports(_observer.Client(_keys.Read))).Users);
    }

    [Fact]
    public async Task UnusableRecords_AreSetAsideAndNamed_TheRestAreImported_AndTheWatermarkMovesOn()
    {
        var upstreamIds = (await _upstream.Server.Client(_upstream.Keys.Read).GetFromJsonAsync<JsonElement>("/api/v1/licenses/consumption?limit=200"))
            .GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList();
        await using var proxy = await FaultProxy.StartAsync(_upstream.Address);
        proxy.Spoil(upstreamIds[4], "minutesUsed", -5);
        proxy.Spoil(upstreamIds[9], "userId", "eve\u0007");
        proxy.Spoil(upstreamIds[14], "minutesUsed", 3_000_000_000L);
        (await AddSource("cloud", _upstream.Keys.Read, via: proxy.Address)).Dispose();

        var first = await Pull("cloud");
        Assert.False(first.TryGetProperty("failure", out _), first.ToString());
        Assert.Equal((upstreamIds.Count - 3, 3), (first.GetProperty("added").GetInt32(), first.GetProperty("rejected").GetInt32()));
        Assert.Equal($"record 5 ('{upstreamIds[4]}'): minutes -5 is negative.", first.GetProperty("rejection").GetString());
        var status = (await _observer.Client(_keys.Admin).GetFromJsonAsync<JsonElement>("/api/v1/sources/cloud")).GetProperty("status");
        Assert.Equal(("ok", 3, first.GetProperty("rejection").GetString()), (status.GetProperty("state").GetString(), status.GetProperty("rejected").GetInt32(),
            status.GetProperty("lastRejection").GetString()));
        Assert.NotEqual(JsonValueKind.Null, status.GetProperty("watermark").ValueKind);

        // None is in the reports; every other record is, once. Pulled again: the same three set aside, the rest repeats.
        var users = (await Reports(_observer.Client(_keys.Read))).Users;
        Assert.Equal(upstreamIds.Count - 3, users.Sum(u => int.Parse(u.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.DoesNotContain(users, u => u.StartsWith("eve", StringComparison.Ordinal));
        var second = await Pull("cloud");
        Assert.Equal((0, upstreamIds.Count - 3, 3), (second.GetProperty("added").GetInt32(), second.GetProperty("repeated").GetInt32(),
            second.GetProperty("rejected").GetInt32()));
    }

    [Fact]
    public async Task AManualPull_WhoseCallerGivesUp_RunsToTheEndAndIsRecorded()
    {
        await using var proxy = await FaultProxy.StartAsync(_upstream.Address);
        // The overview answers after 2 s; the caller waits half a second, then hangs up.
        proxy.Script(new Fault.Slow(TimeSpan.FromSeconds(2)));
        (await AddSource("cloud", _upstream.Keys.Read, via: proxy.Address)).Dispose();
        using var impatient = _observer.Client(_keys.Admin);
        impatient.Timeout = TimeSpan.FromMilliseconds(500);
        await Assert.ThrowsAnyAsync<TaskCanceledException>(() => impatient.PostAsync("/api/v1/sources/cloud/pull", null));

        // The pull went on without it: every record is in, and the status says so.
        var status = await Eventually.Until(
            async () => (await _observer.Client(_keys.Admin).GetFromJsonAsync<JsonElement>("/api/v1/sources/cloud")).GetProperty("status"),
            s => s.GetProperty("state").GetString() != "new", "the abandoned pull to finish");
        Assert.Equal(("ok", _upstream.Units.Count), (status.GetProperty("state").GetString(), status.GetProperty("records").GetInt32()));
    }

    [Fact]
    public async Task ObservedUsage_FiresTheTenantsAlertRules()
    {
        using var admin = _observer.Client(_keys.Admin);
        // No relay is configured here: each alert is in the history as a failed e-mail, which is all this test needs.
        using var channel = await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { kind = "email", to = "admin@example.com" });
        var channels = new[] { (await channel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()! };
        foreach (var rule in new object[]
        {
            new { name = "a tenth", kind = "threshold-percent", value = 10, channels },
            new { name = "heavy user", kind = "user-minutes", value = 6, channels },
        })
        {
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/alerts/rules", rule)).StatusCode);
        }
        (await AddSource("cloud", _upstream.Keys.Read)).Dispose();
        Assert.Equal(_upstream.Units.Count, (await Pull("cloud")).GetProperty("added").GetInt32());
        await _observer.AlertsIdleAsync("obs");
        var fired = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/alerts/history")).GetProperty("alerts").EnumerateArray()
            .Select(e => e.GetProperty("ruleKind").GetString()).ToList();
        // 180 of the source's 600 included minutes: past 10 %; and each of the 30 capacity users used 6 minutes.
        Assert.Equal(1, fired.Count(k => k == "threshold-percent"));
        Assert.Equal(TallyUpstream.CapacityUsers, fired.Count(k => k == "user-minutes"));
    }

    [Fact]
    public async Task ARefusedKey_StopsTheSource_WithAClearStatusAndNoKeyInIt()
    {
        const string wrongKey = "not-a-key-of-that-tenant-0123";
        using var admin = _observer.Client(_keys.Admin);
        using var channel = await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { kind = "email", to = "admin@example.com" });
        var channels = new[] { (await channel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()! };
        Assert.Equal(HttpStatusCode.Created,
            (await admin.PostAsJsonAsync("/api/v1/alerts/rules", new { name = "source down", kind = "source-failing", value = 24, channels })).StatusCode);
        using var added = await AddSource("cloud", wrongKey);
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var pull = await Pull("cloud");
        Assert.Equal(("Unauthorized", 0), (pull.GetProperty("failure").GetString(), pull.GetProperty("added").GetInt32()));
        var text = await _observer.Client(_keys.Admin).GetStringAsync("/api/v1/sources");
        Assert.DoesNotContain(wrongKey, text);
        var status = JsonDocument.Parse(text).RootElement[0].GetProperty("status");
        Assert.Equal("stopped", status.GetProperty("state").GetString());
        Assert.Contains("401", status.GetProperty("lastError").GetString());

        // And an alert says so at once (the rule's 24 hours are for a source that keeps failing), once.
        await _observer.AlertsIdleAsync("obs");
        Assert.Equal(200, (int)(await admin.PostAsync("/api/v1/sources/cloud/pull", null)).StatusCode);
        await _observer.AlertsIdleAsync("obs");
        var history = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/alerts/history")).GetProperty("alerts").EnumerateArray().ToList();
        var alert = Assert.Single(history);
        Assert.Equal("source-failing", alert.GetProperty("ruleKind").GetString());
        Assert.Matches(@"^cloud since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(stopped\)$", alert.GetProperty("subject").GetString());
        Assert.DoesNotContain(wrongKey, alert.ToString());

        // The admin gives the source again with a working key (PUT, same id and kind): it is enabled, keeps its history,
        // and the next pull reads everything. Another kind, another id in the body, or no such source are refused.
        using var wrongKind = await admin.PutAsJsonAsync("/api/v1/sources/cloud", new { kind = "qseow", url = _upstream.Address.ToString(), header = new { name = "X-User", value = "ACME\\svc" } });
        Assert.Equal(HttpStatusCode.Conflict, wrongKind.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsJsonAsync("/api/v1/sources/cloud", new { id = "other", kind = "qlik-cloud", url = _upstream.Address.ToString(), apiKey = _upstream.Keys.Read })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PutAsJsonAsync("/api/v1/sources/nope", new { kind = "qlik-cloud", url = _upstream.Address.ToString(), apiKey = _upstream.Keys.Read })).StatusCode);
        using var shortKey = await admin.PutAsJsonAsync("/api/v1/sources/cloud", new { kind = "qlik-cloud", url = _upstream.Address.ToString(), apiKey = "short" });
        Assert.Contains("apiKey", (await shortKey.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        using var replaced = await admin.PutAsJsonAsync("/api/v1/sources/cloud", new { kind = "qlik-cloud", url = _upstream.Address.ToString(), apiKey = _upstream.Keys.Read });
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var view = await replaced.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(view.GetProperty("enabled").GetBoolean());
        Assert.DoesNotContain(_upstream.Keys.Read, view.ToString());
        Assert.Equal(_upstream.Units.Count, (await Pull("cloud")).GetProperty("added").GetInt32());
        var after = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/sources/cloud")).GetProperty("status");
        Assert.Equal(("ok", _upstream.Units.Count), (after.GetProperty("state").GetString(), after.GetProperty("records").GetInt32()));
    }

    [Fact]
    public async Task ImportSettingsOutOfRange_StopTheServerAtStart_NamingEach()
    {
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestServer.StartAsync(null, null, null,
            "--Tally:Import:ChunkRecords=0", "--Tally:Import:Overlap=-01:00:00", "--Tally:Import:SchedulerTick=00:00:00"));
        Assert.Equal(3, e.Failures.Count());
        Assert.All(new[] { "Tally:Import:ChunkRecords", "Tally:Import:Overlap", "Tally:Import:SchedulerTick" },
            setting => Assert.Contains(setting, e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task BadSources_AreRefusedNamingTheField()
    {
        using var admin = _observer.Client(_keys.Admin);
        foreach (var (body, field) in new (object Body, string Field)[]
        {
            (new { id = "a b", kind = "qlik-cloud", url = "https://x.example", apiKey = "0123456789" }, "id"),
            (new { id = "a", kind = "sap", url = "https://x.example", apiKey = "0123456789" }, "kind"),
            (new { id = "a", kind = "qlik-cloud", url = "ftp://x.example", apiKey = "0123456789" }, "url"),
            (new { id = "a", kind = "qlik-cloud", url = "https://x.example" }, "apiKey"),
            (new { id = "a", kind = "qseow", url = "https://x.example" }, "certificate or header"),
            (new { id = "a", kind = "qseow", url = "https://x.example", certificate = new { pfx = "bm90IGEgcGZ4", password = "secret-pw-123" } }, "certificate.pfx"),
        })
        {
            using var response = await admin.PostAsJsonAsync("/api/v1/sources", body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest && text.Contains(field + ":", StringComparison.Ordinal), $"{field}: {response.StatusCode} {text}");
            Assert.DoesNotContain("secret-pw-123", text);
        }
        Assert.Equal("[]", (await admin.GetStringAsync("/api/v1/sources")).Trim());
        // Read keys see sources; only admin keys change them.
        using var asReader = await _observer.Client(_keys.Read).PostAsJsonAsync("/api/v1/sources", new { id = "a", kind = "qlik-cloud", url = "https://x.example", apiKey = "0123456789" });
        Assert.Equal(HttpStatusCode.Forbidden, asReader.StatusCode);
    }
}
