using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Tally.Server.Tests;

/// <summary>R12 at the HTTP edge: 400 problem+json naming the event and field, 413 for size, nothing applied, never a 500.</summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private HttpClient _ingest = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(extra: ["--Tally:MaxBatchEvents=50", "--Tally:MaxBodyBytes=65536"]);
        var acme = await _server.TenantAsync("acme");
        _ingest = _server.Client(acme.Ingest);
    }

    public async Task DisposeAsync()
    {
        _ingest.Dispose();
        await _server.DisposeAsync();
    }

    private static readonly string Long = new('x', 257);

    public static TheoryData<string, string> BadEvents => new()
    {
        { """{"user":"ann","app":"a"}""", "action" },
        { """{"user":"ann","app":"a","action":""}""", "action" },
        { """{"user":"ann","app":"a","action":"open"}""", "action" },
        { """{"user":"ann","app":"a","action":"Open-App"}""", "action" },
        { """{"app":"a","action":"open-app"}""", "user" },
        { """{"user":"  ","app":"a","action":"open-app"}""", "user" },
        { """{"user":"ann","action":"open-app"}""", "app" },
        { """{"user":"ann","action":"close-app"}""", "app" },
        { """{"user":"ann","app":"a","action":"open-app","time":"2026-03-10T09:00:00"}""", "time" },
        { """{"user":"ann","app":"a","action":"open-app","time":"yesterday"}""", "time" },
        { """{"user":"ann","app":"a","action":"open-app","time":"2026-03-10T09:06:00Z"}""", "time" },
        { $$"""{"user":"{{Long}}","app":"a","action":"open-app"}""", "user" },
        { $$"""{"user":"ann","device":"{{Long}}","app":"a","action":"open-app"}""", "device" },
        { $$"""{"user":"ann","app":"{{Long}}","action":"open-app"}""", "app" },
        { $$"""{"id":"{{Long}}","user":"ann","app":"a","action":"open-app"}""", "id" },
        { """{"user":42,"app":"a","action":"open-app"}""", "user" },
        { """{"user":"ann","app":"a","action":"open-app","id":7}""", "id" },
        { """{"user":"ann","app":["a"],"action":"open-app"}""", "app" },
        { """{"user":"ann","app":"a","action":"open-app","time":true}""", "time" },
        { """{"user":"ann","device":{},"app":"a","action":"open-app"}""", "device" },
        { """{"user":"ann","app":"a","action":"open-app","time":"2026-03-10T09:00:00+14:30"}""", "time" },
        { """{"user":"ann","app":"a","action":"open-app","time":"2026-03-10T09:00:00.5-14:01"}""", "time" },
    };

    [Theory]
    [MemberData(nameof(BadEvents))]
    public async Task Events_BadField_400NamesIndexAndField_NothingApplied(string badEvent, string field)
    {
        var body = $$"""[{"id":"ok-{{field}}-{{badEvent.Length}}","user":"zed","app":"a","action":"open-app"}, {{badEvent}}]""";
        var response = await _ingest.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, detailContains: $"events[1].{field}: ", field: field, index: 1);
        Assert.EndsWith(problem.GetProperty("reason").GetString()!, problem.GetProperty("detail").GetString());

        // Nothing of the rejected batch was applied: the valid event's id is new, and it is charged now.
        var retry = await _ingest.PostAsync("/api/v1/events", new StringContent($"[{body[1..body.IndexOf('}')]}}}]", Encoding.UTF8, "application/json"));
        Assert.Equal("charged", (await retry.Json())[0].Decision());
    }

    [Fact]
    public async Task Access_BadField_400NamesField()
    {
        var response = await _ingest.PostAsJsonAsync("/api/v1/access", new { user = "ann", action = "select" });
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, detailContains: "app", field: "app");
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("[null]")]
    [InlineData("[1]")]
    [InlineData("[{\"user\":\"ann\"")]
    [InlineData("not json")]
    [InlineData("\"text\"")]
    [InlineData("null")]
    public async Task Events_MalformedBody_400(string body)
    {
        var response = await _ingest.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));
        // Tally's own words (JsonBody, EventEndpoints), not the framework's binding failure.
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Events_TooManyEvents_413()
    {
        var events = Enumerable.Range(0, 51).Select(i => new { user = $"u{i}", app = "a", action = "open-app" }).ToArray();
        var response = await _ingest.PostAsJsonAsync("/api/v1/events", events);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Events_BodyTooLarge_413()
    {
        var body = "[" + string.Join(",", Enumerable.Repeat($$"""{"user":"{{new string('u', 200)}}","app":"a","action":"open-app"}""", 400)) + "]";
        var response = await _ingest.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Events_UnknownFieldsIgnored_ClientTimeWithinSkewAccepted()
    {
        var results = await _ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app", colour = "blue", time = "2026-03-10T09:04:59Z" });
        Assert.Equal("charged", results[0].Decision());
    }

    [Theory]
    [InlineData("2026-13")]
    [InlineData("26-03")]
    [InlineData("march")]
    public async Task Usage_BadPeriod_400(string period)
    {
        var acme = await _server.TenantAsync("p" + period.Length + Guid.NewGuid().ToString("N")[..6]);
        using var read = _server.Client(acme.Read);
        var response = await read.GetAsync($"/api/v1/usage/summary?period={period}");
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, detailContains: $"period: '{period}' is not");
    }

    [Theory]
    [InlineData("/api/v1/usage/summary?period=9999-12", "period")]
    [InlineData("/api/v1/usage/timeline?period=9999-12", "period")]
    [InlineData("/api/v1/usage/timeline?period=9999-12&granularity=hour", "period")]
    [InlineData("/api/v1/usage/users?period=9999-12", "period")]
    [InlineData("/api/v1/usage/apps?period=9999-12", "period")]
    [InlineData("/api/v1/usage/summary?period=0001-01", "period")]
    [InlineData("/api/v1/usage/users?period=0000-12", "period")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=200&period=0001-01", "period")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=200&period=9999-12", "period")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=200&period=0001-06&months=12", "period")]
    [InlineData("/api/v1/advice/seats?seatPrice=79228162514264337593543950335&packPrice=0.0001", "seatPrice")]
    [InlineData("/api/v1/advice/seats?seatPrice=79228162514264337593543950336&packPrice=1", "seatPrice")]
    [InlineData("/api/v1/advice/seats?seatPrice=1e30&packPrice=1", "seatPrice")]
    [InlineData("/api/v1/advice/seats?seatPrice=-1&packPrice=1", "seatPrice")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=0.00000001", "packPrice")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=1e40", "packPrice")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=200&packMinutes=99999999999999999999", "packMinutes")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=200&packMinutes=0", "packMinutes")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=200&months=13", "months")]
    [InlineData("/api/v1/advice/seats?seatPrice=40&packPrice=200&months=two", "months")]
    public async Task Reports_OutOfRangeParameter_400NamingTheField(string url, string field)
    {
        // East of UTC: 0001-01 would start before year 1 there.
        var acme = await _server.TenantAsync("r" + Guid.NewGuid().ToString("N")[..8]);
        await _server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000) with { TimeZoneId = "Pacific/Kiritimati" });
        using var read = _server.Client(acme.Read);
        var response = await read.GetAsync(url);
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, field: field);
        Assert.StartsWith(field + ": ", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("/api/v1/usage/summary?period=9999-11")]
    [InlineData("/api/v1/usage/timeline?period=9999-11&granularity=hour")]
    [InlineData("/api/v1/usage/users?period=0001-02")]
    [InlineData("/api/v1/usage/apps?period=0001-02")]
    [InlineData("/api/v1/advice/seats?seatPrice=1000000000&packPrice=0.0001&packMinutes=1000000000&period=0002-01&months=12")]
    public async Task Reports_FirstAndLastPeriodsAndExtremePrices_Answer200(string url)
    {
        var acme = await _server.TenantAsync("e" + Guid.NewGuid().ToString("N")[..8]);
        await _server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000) with { TimeZoneId = "Pacific/Kiritimati" });
        using var read = _server.Client(acme.Read);
        var response = await read.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Json();
        Assert.True(body.TryGetProperty("period", out var period) ? period.GetString() is "9999-11" or "0001-02"
            : body.GetProperty("periods").EnumerateArray().Last().GetString() == "0002-01");
    }

    [Theory]
    [InlineData("""{"id":"has space","name":"x"}""")]
    [InlineData("""{"name":"x"}""")]
    [InlineData("""{"id":"-lead","name":"x"}""")]
    [InlineData("""{"id":5}""")]
    public async Task Tenants_BadId_400(string body)
    {
        using var admin = _server.Client();
        var response = await admin.PostAsync("/api/v1/tenants", new StringContent(body, Encoding.UTF8, "application/json"));
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, detailContains: "id");
    }

    [Theory]
    [InlineData("""{"allocation":"gold"}""")]
    [InlineData("""{"allocation":"capacity","capMinutes":-5}""")]
    [InlineData("""{"allocation":5}""")]
    public async Task Users_BadRow_400(string body)
    {
        var acme = await _server.TenantAsync("u" + Guid.NewGuid().ToString("N")[..8]);
        using var admin = _server.Client(acme.Admin);
        var response = await admin.PutAsync("/api/v1/users/ann", new StringContent(body, Encoding.UTF8, "application/json"));
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, detailContains: body.Contains("capMinutes", StringComparison.Ordinal) ? "a cap cannot be negative" : "allocation");
    }

    [Fact]
    public async Task License_NotAKey_400Malformed()
    {
        var acme = await _server.TenantAsync("l" + Guid.NewGuid().ToString("N")[..8]);
        using var admin = _server.Client(acme.Admin);
        var response = await admin.PutAsJsonAsync("/api/v1/license", new { key = "TALLY1.garbage" });
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, detailContains: "key: malformed");
        Assert.Equal(JsonValueKind.String, problem.GetProperty("reason").ValueKind);
    }
}
