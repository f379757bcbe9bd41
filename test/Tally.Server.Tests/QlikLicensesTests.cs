using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tally.Metering;

namespace Tally.Server.Tests;

/// <summary>
/// Qlik's licenses API on Tally's data, field by field, on a real server with a fake clock. Qlik's own client drives the
/// same routes in test/qlik-client; these tests pin the meanings and the edge cases that need the clock.
/// </summary>
public sealed class QlikLicensesTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(TenantKeys Keys, string LicenseKey)> LicensedAsync(string id, int professional = 2, int analyzer = 1, OverageAllowance? overage = null)
    {
        var tenant = await _server.TenantAsync(id);
        var key = _server.Vendor.Issue(TestServer.Terms(packs: 1, packMinutes: 600, overage ?? OverageAllowance.Capped(60))
            with { LicenseId = "L-" + id, ProfessionalSeats = professional, AnalyzerSeats = analyzer });
        using var admin = _server.Client(tenant.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/license", new { key })).StatusCode);
        return (tenant, key);
    }

    /// <summary>Asserts Qlik's error body: status, code, and a detail that says why.</summary>
    private static async Task<JsonElement> AssertQlikError(HttpResponseMessage response, HttpStatusCode status, string code, string detailContains)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Json();
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("title").GetString()));
        Assert.Contains(detailContains, error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(error.GetProperty("detail").GetString(), body.GetProperty("message").GetString());
        Assert.Equal(JsonValueKind.String, body.GetProperty("error").ValueKind);
        return body;
    }

    [Fact]
    public async Task Overview_Licensed_EveryRequiredFieldWithItsMeaning()
    {
        var (acme, key) = await LicensedAsync("acme");
        using var admin = _server.Client(acme.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/users/pat", new { allocation = "professional" })).StatusCode);
        using var ingest = _server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }, new { user = "bob", app = "a", action = "open-app" },
            new { user = "pat", app = "a", action = "open-app" });

        var overview = await (await admin.GetAsync("/api/v1/licenses/overview")).Json();
        Assert.Equal("L-acme", overview.GetProperty("licenseNumber").GetString());
        Assert.Equal(key, overview.GetProperty("licenseKey").GetString());
        Assert.Equal("Ok", overview.GetProperty("status").GetString());
        Assert.Equal("External", overview.GetProperty("origin").GetString());
        Assert.False(overview.GetProperty("trial").GetBoolean());
        Assert.Equal("", overview.GetProperty("secondaryNumber").GetString());
        Assert.Equal("2026-02-08T09:00:00Z/2027-03-10T09:00:00Z", overview.GetProperty("valid").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))), overview.GetProperty("version").GetString());
        Assert.Equal(TestServer.Start, overview.GetProperty("updated").GetDateTimeOffset());
        Assert.Equal("Acme", overview.GetProperty("customerId").GetString());
        var parameter = Assert.Single(overview.GetProperty("parameters").EnumerateArray());
        Assert.Equal(overview.GetProperty("valid").GetString(), parameter.GetProperty("valid").GetString());
        Assert.Equal(600, parameter.GetProperty("values").GetProperty("packMinutes").GetInt32());
        var allotments = overview.GetProperty("allotments").EnumerateArray().ToDictionary(a => a.GetProperty("name").GetString()!);
        Assert.Equal((2, 1), (allotments["professional"].GetProperty("units").GetInt32(), allotments["professional"].GetProperty("unitsUsed").GetInt32()));
        Assert.Equal("assigned", allotments["analyzer"].GetProperty("usageClass").GetString());
        Assert.Equal((600, 12, 60), (allotments["analyzer_time"].GetProperty("units").GetInt32(), allotments["analyzer_time"].GetProperty("unitsUsed").GetInt32(),
            allotments["analyzer_time"].GetProperty("overage").GetInt32()));
        Assert.False(allotments["professional"].TryGetProperty("overage", out _));

        // The key installs the license: a read key sees the overview without it.
        using var read = _server.Client(acme.Read);
        Assert.Equal("", (await (await read.GetAsync("/api/v1/licenses/overview")).Json()).GetProperty("licenseKey").GetString());
    }

    [Fact]
    public async Task OverviewAndStatus_NoLicense_404AndMissing()
    {
        var bare = await _server.TenantAsync("bare");
        using var read = _server.Client(bare.Read);
        await AssertQlikError(await read.GetAsync("/api/v1/licenses/overview"), HttpStatusCode.NotFound, "LICENSES-907", "No license is installed");
        var status = await (await read.GetAsync("/api/v1/licenses/status")).Json();
        Assert.Equal(("Missing", "./.", "Signed"), (status.GetProperty("status").GetString(), status.GetProperty("valid").GetString(), status.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task OverviewAndStatus_PastValidTo_Expired()
    {
        var (acme, _) = await LicensedAsync("acme");
        using var read = _server.Client(acme.Read);
        Assert.Equal("Ok", (await (await read.GetAsync("/api/v1/licenses/status")).Json()).GetProperty("status").GetString());
        _server.Time.Advance(TimeSpan.FromDays(366));
        Assert.Equal("Expired", (await (await read.GetAsync("/api/v1/licenses/status")).Json()).GetProperty("status").GetString());
        Assert.Equal("Expired", (await (await read.GetAsync("/api/v1/licenses/overview")).Json()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Consumption_Records_QlikMeanings()
    {
        var (acme, _) = await LicensedAsync("acme");
        using var admin = _server.Client(acme.Admin);
        await admin.PutAsJsonAsync("/api/v1/users/pat", new { allocation = "professional" });
        using var ingest = _server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }, new { user = "bob", app = "b", device = "d1", action = "open-app" },
            new { user = "pat", app = "a", action = "open-app" });
        using var read = _server.Client(acme.Read);
        var records = (await (await read.GetAsync("/api/v1/licenses/consumption")).Json()).GetProperty("data").EnumerateArray()
            .ToDictionary(r => r.GetProperty("userId").GetString()!);
        var ann = records["ann"];
        Assert.Equal("ann", ann.GetProperty("sessionId").GetString()); // no device: no trailing separator
        Assert.Equal("bob/d1", records["bob"].GetProperty("sessionId").GetString());
        Assert.Equal(("PT6M", 6, 1), (ann.GetProperty("duration").GetString(), ann.GetProperty("minutesUsed").GetInt32(), ann.GetProperty("capacityUsed").GetInt32()));
        Assert.Equal(("time", "analyzer_time"), (ann.GetProperty("licenseUsage").GetString(), ann.GetProperty("allotmentId").GetString()));
        Assert.Equal(TestServer.Start.AddMinutes(6), ann.GetProperty("endTime").GetDateTimeOffset());
        var pat = records["pat"];
        Assert.Equal((0, 0, "assigned", "professional"), (pat.GetProperty("minutesUsed").GetInt32(), pat.GetProperty("capacityUsed").GetInt32(),
            pat.GetProperty("licenseUsage").GetString(), pat.GetProperty("allotmentId").GetString()));
    }

    private async Task<TenantKeys> UnitsAsync(string id, int count)
    {
        var tenant = await _server.TenantAsync(id);
        using var ingest = _server.Client(tenant.Ingest);
        for (var i = 0; i < count; i++)
        {
            // Two units per instant: ties on endTime are broken by id, and the order stays total.
            await ingest.SendEventsAsync(new { user = $"u{i:D3}", app = "a", action = "open-app" });
            if (i % 2 == 1)
            {
                _server.Time.Advance(TimeSpan.FromMinutes(1));
            }
        }
        return tenant;
    }

    private static async Task<(List<string> Ids, JsonElement Links)> Page(HttpClient client, string href)
    {
        var response = await client.GetAsync(href);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Json();
        return ([.. page.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()!)], page.GetProperty("links"));
    }

    private static string? Link(JsonElement links, string name) =>
        links.TryGetProperty(name, out var link) && link.ValueKind == JsonValueKind.Object ? link.GetProperty("href").GetString() : null;

    [Fact]
    public async Task Consumption_ForwardThenBack_AbsoluteLinks_ArrivalsNeitherRepeatNorSkip()
    {
        var acme = await UnitsAsync("acme", 23);
        using var read = _server.Client(acme.Read);
        var all = (await Page(read, "/api/v1/licenses/consumption")).Ids;
        Assert.Equal(23, all.Count);

        var forward = new List<List<string>>();
        string? href = "/api/v1/licenses/consumption?limit=4";
        JsonElement links = default;
        while (href is not null)
        {
            (var ids, links) = await Page(read, href);
            forward.Add(ids);
            if (forward.Count == 1)
            {
                Assert.Null(Link(links, "prev"));
            }
            if (forward.Count == 2)
            {
                // New units arrive mid-walk: they end later than everything read so far, so they come at the end.
                using var ingest = _server.Client(acme.Ingest);
                _server.Time.Advance(TimeSpan.FromMinutes(1));
                await ingest.SendEventsAsync(new { user = "late1", app = "a", action = "open-app" }, new { user = "late2", app = "a", action = "open-app" });
            }
            href = Link(links, "next");
            Assert.True(href is null || href.StartsWith(_server.Address.ToString().TrimEnd('/') + "/api/v1/licenses/consumption?limit=4&page=", StringComparison.Ordinal), href);
        }
        var walked = forward.SelectMany(p => p).ToList();
        Assert.Equal(walked.Count, walked.Distinct().Count());
        Assert.Equal(all, walked.Take(23));
        Assert.Equal(25, walked.Count);

        var backward = new List<List<string>>();
        href = Link(links, "prev");
        while (href is not null)
        {
            (var ids, var back) = await Page(read, href);
            backward.Add(ids);
            Assert.NotNull(Link(back, "next"));
            href = Link(back, "prev");
        }
        // Back from the last page: the same pages as going forward, in reverse.
        Assert.Equal(forward.Take(forward.Count - 1).Reverse(), backward);
    }

    [Fact]
    public async Task Consumption_SortAndEveryFilterOperator_ExactSubsets()
    {
        var acme = await UnitsAsync("acme", 6); // ends: 09:06 ×2, 09:07 ×2, 09:08 ×2
        using var read = _server.Client(acme.Read);
        async Task<List<DateTimeOffset>> Ends(string query) =>
            [.. (await (await read.GetAsync("/api/v1/licenses/consumption?" + query)).Json()).GetProperty("data").EnumerateArray().Select(r => r.GetProperty("endTime").GetDateTimeOffset())];
        var t = TestServer.Start.AddMinutes(7);
        string F(string f) => "filter=" + Uri.EscapeDataString(f);
        Assert.Equal(6, (await Ends("sort=endTime")).Count);
        var descending = await Ends("sort=-endTime");
        Assert.Equal(descending.OrderByDescending(e => e), descending);
        Assert.Equal(TestServer.Start.AddMinutes(8), descending[0]);
        Assert.Equal([t, t], await Ends(F("endTime eq \"2026-03-10T09:07:00Z\"")));
        Assert.Equal(2, (await Ends(F("endTime gt \"2026-03-10T09:07:00Z\""))).Count);
        Assert.Equal(4, (await Ends(F("EndTime GE \"2026-03-10T10:07:00+01:00\""))).Count);
        Assert.Equal(2, (await Ends(F("endTime lt \"2026-03-10T09:07:00Z\""))).Count);
        Assert.Equal(4, (await Ends(F("endTime le \"2026-03-10T09:07:00Z\""))).Count);
        Assert.Equal([t, t], await Ends(F("(endTime gt \"2026-03-10T09:06:00Z\") and endTime lt \"2026-03-10T09:08:00Z\"")));
    }

    [Theory]
    [InlineData("limit=0", "LICENSES-903", "limit: '0' is not a whole number from 1 to 200")]
    [InlineData("limit=201", "LICENSES-903", "from 1 to 200")]
    [InlineData("limit=abc", "LICENSES-903", "limit: 'abc'")]
    [InlineData("sort=startTime", "LICENSES-903", "sort: 'startTime' is not sortable")]
    [InlineData("filter=startTime%20gt%20%222026-01-01T00:00:00Z%22", "LICENSES-904", "at 1: unknown attribute 'startTime'")]
    [InlineData("filter=endTime%20gt%202026", "LICENSES-904", "at 12: expected a quoted value")]
    [InlineData("filter=endTime%20gt%20%222026-01-01T00:00:00%22", "LICENSES-904", "is not an ISO 8601 instant with an offset")]
    [InlineData("filter=endTime%20gt%20%222026-03-01T00:00:00%2B14:30%22", "LICENSES-904", "filter: at 12: '2026-03-01T00:00:00+14:30' is not an ISO 8601 instant with an offset")]
    [InlineData("filter=endTime%20lt%20%222026-03-01T00:00:00.5-15:00%22", "LICENSES-904", "filter: at 12: '2026-03-01T00:00:00.5-15:00' is not an ISO 8601 instant")]
    [InlineData("filter=endTime%20gt%20%222026-01-01T00:00:00Z%22%20or%20endTime%20lt%20%222026-02-01T00:00:00Z%22", "LICENSES-904", "'or' is not supported")]
    [InlineData("filter=endTime%20sw%20%222026%22", "LICENSES-904", "'sw' is not an operator endTime accepts")]
    [InlineData("filter=endTime%20gt%20%222026", "LICENSES-904", "the quoted value is not closed")]
    [InlineData("page=abc", "LICENSES-905", "not a page this server issued")]
    [InlineData("page=12", "LICENSES-905", "not a page this server issued")]
    public async Task Consumption_BadQuery_QlikErrorNamingTheReason(string query, string code, string detail)
    {
        var acme = await _server.TenantAsync("c" + Guid.NewGuid().ToString("N")[..8]);
        using var read = _server.Client(acme.Read);
        await AssertQlikError(await read.GetAsync($"/api/v1/licenses/consumption?{query}"), HttpStatusCode.BadRequest, code, detail);
    }

    [Theory]
    [InlineData("consumption", "{}")]
    [InlineData("consumption", "[1,2]")]
    [InlineData("consumption", "{\"dir\":\"next\",\"end\":1,\"id\":1}")]
    [InlineData("consumption", "{\"dir\":\"next\",\"end\":1,\"id\":1,\"sort\":\"+endTime\",\"filter\":\"endTime zz 1\"}")]
    [InlineData("assignments", "{\"dir\":\"next\"}")]
    [InlineData("assignments", "{\"dir\":\"next\",\"sort\":\"\",\"key\":\"a\",\"subject\":\"a\"}")]
    [InlineData("assignments", "{\"dir\":\"prev\",\"sort\":\"+subject\",\"key\":null,\"subject\":\"a\"}")]
    [InlineData("assignments", "{\"dir\":\"prev\",\"sort\":\"subject\",\"key\":\"a\",\"subject\":\"a\"}")]
    [InlineData("assignments", "\"text\"")]
    public async Task Cursor_Forged_400NeverAServerError(string route, string json)
    {
        var (acme, _) = await LicensedAsync("f" + Guid.NewGuid().ToString("N")[..8]);
        using var read = _server.Client(acme.Read);
        var page = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
        var response = await read.GetAsync($"/api/v1/licenses/{route}?page={page}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var code = (await response.Json()).GetProperty("errors")[0].GetProperty("code").GetString();
        Assert.Contains(code, new[] { "LICENSES-904", "LICENSES-905" });
    }

    [Fact]
    public async Task Consumption_CursorWithAnotherFilter_Refused()
    {
        var acme = await UnitsAsync("acme", 3);
        using var read = _server.Client(acme.Read);
        var next = Link((await Page(read, "/api/v1/licenses/consumption?limit=1")).Links, "next")!;
        Assert.Equal(HttpStatusCode.OK, (await read.GetAsync(next + "&sort=%2BendTime")).StatusCode);
        await AssertQlikError(await read.GetAsync(next + "&sort=-endTime"), HttpStatusCode.BadRequest, "LICENSES-905", "another sort or filter");
    }

    [Fact]
    public async Task Consumption_PublicBaseUrl_StartsEveryLink()
    {
        await using var proxied = await TestServer.StartAsync(extra: ["--Tally:PublicBaseUrl=https://tally.example.com/base/"]);
        var acme = await proxied.TenantAsync("acme");
        using (var ingest = proxied.Client(acme.Ingest))
        {
            await ingest.SendEventsAsync(new { user = "a", app = "x", action = "open-app" }, new { user = "b", app = "x", action = "open-app" });
        }
        using var read = proxied.Client(acme.Read);
        var next = Link((await Page(read, "/api/v1/licenses/consumption?limit=1")).Links, "next")!;
        Assert.StartsWith("https://tally.example.com/base/api/v1/licenses/consumption?limit=1&page=", next, StringComparison.Ordinal);
    }

    private static async Task<List<(int Status, string? Code)>> ActAsync(HttpClient admin, string action, object items)
    {
        var response = await admin.PostAsJsonAsync($"/api/v1/licenses/assignments/actions/{action}", items);
        Assert.Equal((HttpStatusCode)207, response.StatusCode);
        return [.. (await response.Json()).GetProperty("data").EnumerateArray()
            .Select(i => (i.GetProperty("status").GetInt32(), i.TryGetProperty("code", out var c) ? c.GetString() : null))];
    }

    private static async Task<Dictionary<string, string?>> PlanAsync(HttpClient client) =>
        (await (await client.GetAsync("/api/v1/allocations")).Json()).GetProperty("users").EnumerateArray()
            .ToDictionary(u => u.GetProperty("user").GetString()!, u => u.TryGetProperty("allocation", out var a) ? a.GetString() : null);

    private static async Task<Dictionary<string, string>> AssignmentsAsync(HttpClient client, string query = "") =>
        (await (await client.GetAsync("/api/v1/licenses/assignments?limit=100" + query)).Json()).GetProperty("data").EnumerateArray()
            .ToDictionary(a => a.GetProperty("subject").GetString()!, a => a.GetProperty("type").GetString()!);

    [Fact]
    public async Task Assignments_AddUpdateDelete_QlikStatusesAndTallysPlanAgree()
    {
        var (acme, _) = await LicensedAsync("acme", professional: 2, analyzer: 1);
        using var admin = _server.Client(acme.Admin);
        await admin.PutAsJsonAsync("/api/v1/users/gus", new { groups = new[] { "sales" }, capMinutes = 30 });

        Assert.Equal([(201, null), (201, null), (403, "LICENSES-011"), (201, null), (409, "LICENSES-909"), (400, "LICENSES-908"), (400, "LICENSES-908")],
            await ActAsync(admin, "add", new
            {
                add = new object[]
                {
                    new { subject = "ann", type = "professional" }, new { subject = "gus", type = "professional" }, new { subject = "cy", type = "professional" },
                    new { subject = "dee", type = "analyzer" }, new { subject = "ann", type = "analyzer" }, new { subject = "eve", type = "gold" },
                    new { subject = "anon:1", type = "analyzer" },
                },
            }));
        var plan = await PlanAsync(admin);
        Assert.Equal(("professional", "professional", "analyzer"), (plan["ann"], plan["gus"], plan["dee"]));
        Assert.False(plan.ContainsKey("cy"));
        // gus keeps his groups; a seat has no cap.
        var gus = (await (await admin.GetAsync("/api/v1/allocations")).Json()).GetProperty("users").EnumerateArray().Single(u => u.GetProperty("user").GetString() == "gus");
        Assert.Equal("sales", gus.GetProperty("groups")[0].GetString());
        Assert.False(gus.TryGetProperty("capMinutes", out _));

        // Type change with no free seat of the new type; then a move to a new subject; then unknown ones.
        Assert.Equal([(403, "LICENSES-011"), (201, null), (404, "LICENSES-016"), (404, "LICENSES-016"), (409, "LICENSES-909")],
            await ActAsync(admin, "update", new
            {
                update = new object[]
                {
                    new { subject = "dee", type = "professional", sourceType = "analyzer" },
                    new { subject = "fay", sourceSubject = "dee", type = "analyzer" },
                    new { subject = "nobody", type = "analyzer" },
                    new { subject = "ann", sourceType = "analyzer" },
                    new { subject = "gus", sourceSubject = "ann" },
                },
            }));
        plan = await PlanAsync(admin);
        Assert.Equal("analyzer", plan["fay"]);
        Assert.False(plan.ContainsKey("dee"));

        Assert.Equal([(200, null), (404, "LICENSES-016"), (404, "LICENSES-016")], await ActAsync(admin, "delete", new
        {
            delete = new object[] { new { subject = "ann", type = "professional" }, new { subject = "fay", type = "professional" }, new { subject = "ann", type = "professional" } },
        }));
        using var read = _server.Client(acme.Read);
        Assert.Equal(new Dictionary<string, string> { ["gus"] = "professional", ["fay"] = "analyzer" }, await AssignmentsAsync(read));
        Assert.False((await PlanAsync(admin)).ContainsKey("ann"));

        // And the other way: Tally's own API changes what Qlik's lists.
        await admin.PutAsJsonAsync("/api/v1/users/ann", new { allocation = "professional" });
        Assert.Equal("professional", (await AssignmentsAsync(read))["ann"]);
    }

    [Fact]
    public async Task Assignments_AutoAssigned_ListedWithFirstEventTime_DeleteKeepsThemOff()
    {
        var (acme, _) = await LicensedAsync("acme", professional: 1, analyzer: 0);
        using var admin = _server.Client(acme.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/licenses/settings", new { autoAssignProfessional = true })).StatusCode);
        Assert.True((await (await admin.GetAsync("/api/v1/allocations")).Json()).GetProperty("autoAssignProfessional").GetBoolean());
        _server.Time.Advance(TimeSpan.FromMinutes(5));
        using var ingest = _server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }, new { user = "bob", app = "a", action = "open-app" });

        var page = await (await admin.GetAsync("/api/v1/licenses/assignments")).Json();
        var only = Assert.Single(page.GetProperty("data").EnumerateArray());
        Assert.Equal(("ann", "professional", false), (only.GetProperty("subject").GetString(), only.GetProperty("type").GetString(), only.GetProperty("excess").GetBoolean()));
        Assert.Equal(TestServer.Start.AddMinutes(5), only.GetProperty("created").GetDateTimeOffset());
        Assert.Equal([(403, "LICENSES-011")], await ActAsync(admin, "add", new { add = new[] { new { subject = "cy", type = "professional" } } }));

        // Deleting an auto-assigned seat pins the user to capacity, or auto-assignment would hand it straight back.
        Assert.Equal([(200, null)], await ActAsync(admin, "delete", new { delete = new[] { new { subject = "ann", type = "professional" } } }));
        Assert.Equal("capacity", (await PlanAsync(admin))["ann"]);
        // The seat she held is free again, and auto-assignment gives it to the next user who appeared without one.
        var now = Assert.Single(await AssignmentsAsync(admin));
        Assert.Equal(("bob", "professional"), (now.Key, now.Value));
        var settings = await (await admin.GetAsync("/api/v1/licenses/settings")).Json();
        Assert.Equal((true, false), (settings.GetProperty("autoAssignProfessional").GetBoolean(), settings.GetProperty("autoAssignAnalyzer").GetBoolean()));
    }

    [Fact]
    public async Task Assignments_FilterSortPagesAndOrphans()
    {
        var (acme, _) = await LicensedAsync("acme", professional: 5, analyzer: 5);
        using var admin = _server.Client(acme.Admin);
        foreach (var (user, type) in new[] { ("cy", "analyzer"), ("ann", "professional"), ("bob", "analyzer"), ("dee", "professional"), ("eve", "analyzer") })
        {
            _server.Time.Advance(TimeSpan.FromMinutes(1));
            Assert.Equal([(201, null)], await ActAsync(admin, "add", new { add = new[] { new { subject = user, type } } }));
        }
        using var ingest = _server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }, new { user = "eve", app = "a", action = "open-app" });
        using var read = _server.Client(acme.Read);
        async Task<List<string>> Subjects(string query) =>
            [.. (await (await read.GetAsync("/api/v1/licenses/assignments?" + query)).Json()).GetProperty("data").EnumerateArray().Select(a => a.GetProperty("subject").GetString()!)];

        Assert.Equal(["cy", "ann", "bob", "dee", "eve"], await Subjects(""));
        Assert.Equal(["eve", "dee", "cy", "bob", "ann"], await Subjects("sort=-subject"));
        Assert.Equal(["bob", "cy", "eve"], await Subjects("filter=" + Uri.EscapeDataString("type eq \"analyzer\"") + "&sort=subject"));
        Assert.Equal(["dee"], await Subjects("filter=" + Uri.EscapeDataString("subject sw \"d\" and type eq \"professional\"")));
        Assert.Equal(["cy", "bob", "dee"], await Subjects("orphans=true"));
        Assert.Equal(["bob", "dee"], await Subjects("filter=" + Uri.EscapeDataString("created gt \"2026-03-10T09:02:00Z\" and created le \"2026-03-10T09:04:00Z\"")));

        var walked = new List<string>();
        string? href = "/api/v1/licenses/assignments?limit=2&sort=subject";
        JsonElement links = default;
        while (href is not null)
        {
            var page = await (await read.GetAsync(href)).Json();
            walked.AddRange(page.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("subject").GetString()!));
            links = page.GetProperty("links");
            href = Link(links, "next");
        }
        Assert.Equal(["ann", "bob", "cy", "dee", "eve"], walked);
        var back = await (await read.GetAsync(Link(links, "prev")!)).Json();
        Assert.Equal(["cy", "dee"], back.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("subject").GetString()));

        await AssertQlikError(await read.GetAsync("/api/v1/licenses/assignments?limit=101"), HttpStatusCode.BadRequest, "LICENSES-903", "from 1 to 100");
        await AssertQlikError(await read.GetAsync("/api/v1/licenses/assignments?orphans=maybe"), HttpStatusCode.BadRequest, "LICENSES-903", "orphans: 'maybe'");
        await AssertQlikError(await read.GetAsync("/api/v1/licenses/assignments?filter=" + Uri.EscapeDataString("subject gt \"a\"")), HttpStatusCode.BadRequest,
            "LICENSES-904", "at 9: 'gt' is not an operator subject accepts");
    }

    [Theory]
    [InlineData("add", "not json", "not valid JSON")]
    [InlineData("add", """{"add":null}""", "add: required")]
    [InlineData("add", """{"add":[{"type":"analyzer"}]}""", "add[0].subject: required")]
    [InlineData("add", """{"add":[{"subject":"a"}]}""", "add[0].type: required")]
    [InlineData("delete", """{"delete":[null]}""", "delete[0]: must be an object")]
    [InlineData("update", """{"update":[{"subject":5}]}""", "$.update[0].subject")]
    public async Task Assignments_BadBody_400NothingApplied(string action, string body, string detail)
    {
        var (acme, _) = await LicensedAsync("b" + Guid.NewGuid().ToString("N")[..8]);
        using var admin = _server.Client(acme.Admin);
        var response = await admin.PostAsync($"/api/v1/licenses/assignments/actions/{action}", new StringContent(body, Encoding.UTF8, "application/json"));
        await AssertQlikError(response, HttpStatusCode.BadRequest, "LICENSES-906", detail);
        Assert.Empty(await PlanAsync(admin));
    }

    [Fact]
    public async Task Settings_NonBoolean_400_AndUnchanged()
    {
        var (acme, _) = await LicensedAsync("acme");
        using var admin = _server.Client(acme.Admin);
        var response = await admin.PutAsync("/api/v1/licenses/settings", new StringContent("""{"autoAssignAnalyzer":"yes"}""", Encoding.UTF8, "application/json"));
        await AssertQlikError(response, HttpStatusCode.BadRequest, "LICENSES-906", "autoAssignAnalyzer");
        Assert.False((await (await admin.GetAsync("/api/v1/licenses/settings")).Json()).GetProperty("autoAssignAnalyzer").GetBoolean());
    }

    [Fact]
    public async Task Assignments_LicenseWithFewerSeats_LaterSeatIsExcess_AndPlanEditsRefusedWithTheReason()
    {
        var (acme, _) = await LicensedAsync("acme", professional: 2, analyzer: 0);
        using var admin = _server.Client(acme.Admin);
        Assert.Equal([(201, null)], await ActAsync(admin, "add", new { add = new[] { new { subject = "ann", type = "professional" } } }));
        _server.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal([(201, null)], await ActAsync(admin, "add", new { add = new[] { new { subject = "bob", type = "professional" } } }));
        var smaller = _server.Vendor.Issue(TestServer.Terms(1, 600) with { LicenseId = "L-acme-2", ProfessionalSeats = 1 });
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/license", new { key = smaller })).StatusCode);

        var excess = (await (await admin.GetAsync("/api/v1/licenses/assignments")).Json()).GetProperty("data").EnumerateArray()
            .ToDictionary(a => a.GetProperty("subject").GetString()!, a => a.GetProperty("excess").GetBoolean());
        Assert.Equal(new Dictionary<string, bool> { ["ann"] = false, ["bob"] = true }, excess);
        await AssertQlikError(await admin.PutAsJsonAsync("/api/v1/licenses/settings", new { autoAssignAnalyzer = true }), HttpStatusCode.BadRequest,
            "LICENSES-911", "2 users are assigned Professional seats but the license has 1");
        Assert.False((await (await admin.GetAsync("/api/v1/licenses/settings")).Json()).GetProperty("autoAssignAnalyzer").GetBoolean());
        // Giving a seat back makes the plan fit again.
        Assert.Equal([(200, null)], await ActAsync(admin, "delete", new { delete = new[] { new { subject = "bob", type = "professional" } } }));
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/licenses/settings", new { autoAssignAnalyzer = true })).StatusCode);
    }

    [Fact]
    public async Task Assignments_ConcurrentAddsForTheLastSeat_ExactlyOneWins()
    {
        var (acme, _) = await LicensedAsync("acme", professional: 1, analyzer: 0);
        using var admin = _server.Client(acme.Admin);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => ActAsync(admin, "add", new { add = new[] { new { subject = $"u{i}", type = "professional" } } })));
        Assert.Equal(1, results.Count(r => r[0].Status == 201));
        Assert.Equal(7, results.Count(r => r[0] == (403, "LICENSES-011")));
        Assert.Single(await AssignmentsAsync(admin));
    }

    [Fact]
    public async Task Auth_MissingKeyAndWrongRole_QlikErrorBody()
    {
        var (acme, _) = await LicensedAsync("acme");
        using var anonymous = _server.Client(null);
        await AssertQlikError(await anonymous.GetAsync("/api/v1/licenses/overview"), HttpStatusCode.Unauthorized, "LICENSES-901", "Authorization: Bearer KEY");
        using var read = _server.Client(acme.Read);
        await AssertQlikError(await read.PostAsJsonAsync("/api/v1/licenses/assignments/actions/add", new { add = new[] { new { subject = "x", type = "analyzer" } } }),
            HttpStatusCode.Forbidden, "LICENSES-902", "role admin");
    }
}
