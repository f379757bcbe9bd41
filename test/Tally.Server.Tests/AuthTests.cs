using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Tally.Server.Tests;

/// <summary>Every endpoint × every kind of caller: 401 without a valid key, 403 for the wrong role, 404 for another tenant's data.</summary>
public sealed class AuthTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private TenantKeys _acme = null!;
    private TenantKeys _globex = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _acme = await _server.TenantAsync("acme");
        _globex = await _server.TenantAsync("globex");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    // Each endpoint with a body that is valid for it and the roles allowed to call it.
    public static TheoryData<string, string, string?, string> Endpoints => new()
    {
        { "POST", "/api/v1/tenants", """{"id":"t-NEW","name":"n"}""", "bootstrap" },
        { "GET", "/api/v1/tenants", null, "bootstrap" },
        { "POST", "/api/v1/tenants/acme/api-keys", """{"role":"read"}""", "bootstrap" },
        { "POST", "/api/v1/api-keys", """{"role":"read"}""", "admin" },
        { "GET", "/api/v1/api-keys", null, "admin" },
        { "DELETE", "/api/v1/api-keys/does-not-exist", null, "admin bootstrap" },
        { "PUT", "/api/v1/license", """{"key":"x"}""", "admin" },
        { "GET", "/api/v1/license", null, "admin read" },
        { "GET", "/api/v1/allocations", null, "admin read" },
        { "PUT", "/api/v1/allocations", """{"users":[]}""", "admin" },
        { "PUT", "/api/v1/users/ann", """{"allocation":"capacity"}""", "admin" },
        { "DELETE", "/api/v1/users/ann", null, "admin" },
        { "POST", "/api/v1/events", """[{"user":"ann","app":"a","action":"heartbeat"}]""", "ingest" },
        { "POST", "/api/v1/access", """{"user":"ann","app":"a","action":"heartbeat"}""", "ingest" },
        { "GET", "/api/v1/usage/summary", null, "admin read" },
        { "GET", "/api/v1/usage/users", null, "admin read" },
        { "GET", "/api/v1/usage/apps", null, "admin read" },
        { "GET", "/api/v1/licenses/overview", null, "admin read" },
        { "GET", "/api/v1/licenses/consumption", null, "admin read" },
        { "GET", "/api/v1/licenses/status", null, "admin read" },
        { "GET", "/api/v1/licenses/settings", null, "admin read" },
        { "PUT", "/api/v1/licenses/settings", """{"autoAssignAnalyzer":false}""", "admin" },
        { "GET", "/api/v1/licenses/assignments", null, "admin read" },
        { "POST", "/api/v1/licenses/assignments/actions/add", """{"add":[{"subject":"x","type":"analyzer"}]}""", "admin" },
        { "POST", "/api/v1/licenses/assignments/actions/update", """{"update":[{"subject":"x","type":"analyzer"}]}""", "admin" },
        { "POST", "/api/v1/licenses/assignments/actions/delete", """{"delete":[{"subject":"x","type":"analyzer"}]}""", "admin" },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Endpoint_EachCaller_401Or403OrAllowed(string method, string path, string? body, string allowed)
    {
        using var revokedClient = _server.Client();
        var revoked = await (await revokedClient.PostAsJsonAsync("/api/v1/tenants/acme/api-keys", new { role = "admin" })).Json();
        Assert.Equal(HttpStatusCode.NoContent, (await revokedClient.DeleteAsync($"/api/v1/api-keys/{revoked.GetProperty("id").GetString()}")).StatusCode);

        var callers = new (string Name, string? Key)[]
        {
            ("none", null), ("unknown", "tally_nope_nope"), ("revoked", revoked.GetProperty("key").GetString()),
            ("ingest", _acme.Ingest), ("read", _acme.Read), ("admin", _acme.Admin), ("bootstrap", TestServer.AdminKey),
        };
        var n = 0;
        foreach (var (name, key) in callers)
        {
            using var client = _server.Client(key);
            using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("NEW", $"{name}{n++}", StringComparison.Ordinal));
            if (body is not null)
            {
                request.Content = new StringContent(body.Replace("NEW", $"{name}{n}", StringComparison.Ordinal), Encoding.UTF8, "application/json");
            }
            var response = await client.SendAsync(request);
            var status = (int)response.StatusCode;
            if (name is "none" or "unknown" or "revoked")
            {
                Assert.True(status == 401, $"{method} {path} as {name}: {status}");
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
            }
            else if (allowed.Split(' ').Contains(name))
            {
                Assert.True(status is not (401 or 403) and < 500, $"{method} {path} as {name}: {status}");
            }
            else
            {
                Assert.True(status == 403, $"{method} {path} as {name}: {status}");
                Assert.DoesNotContain("\"data\"", await response.Content.ReadAsStringAsync());
            }
        }
    }

    [Fact]
    public async Task ApiKeys_RevokeOtherTenantsKey_404AndKeyStillWorks()
    {
        using var globexAdmin = _server.Client(_globex.Admin);
        var keys = await (await globexAdmin.GetAsync("/api/v1/api-keys")).Json();
        var globexIngestId = keys.EnumerateArray().First(k => k.GetProperty("role").GetString() == "ingest").GetProperty("id").GetString();

        using var acmeAdmin = _server.Client(_acme.Admin);
        Assert.Equal(HttpStatusCode.NotFound, (await acmeAdmin.DeleteAsync($"/api/v1/api-keys/{globexIngestId}")).StatusCode);
        using var globexIngest = _server.Client(_globex.Ingest);
        Assert.Equal("free", (await globexIngest.SendEventsAsync(new { user = "g", action = "heartbeat" }))[0].Decision());

        Assert.Equal(HttpStatusCode.NoContent, (await globexAdmin.DeleteAsync($"/api/v1/api-keys/{globexIngestId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await globexIngest.PostAsJsonAsync("/api/v1/events", new[] { new { user = "g", action = "heartbeat" } })).StatusCode);
    }

    [Fact]
    public async Task Tenants_DataIsolated_ReportsAndIdsPerTenant()
    {
        using var acmeIngest = _server.Client(_acme.Ingest);
        using var globexIngest = _server.Client(_globex.Ingest);
        Assert.Equal("charged", (await acmeIngest.SendEventsAsync(new { id = "same", user = "ann", app = "secret-app", action = "open-app" }))[0].Decision());
        // The same id in another tenant is a different event.
        Assert.Equal("charged", (await globexIngest.SendEventsAsync(new { id = "same", user = "gil", app = "g", action = "open-app" }))[0].Decision());

        using var globexRead = _server.Client(_globex.Read);
        var consumption = await (await globexRead.GetAsync("/api/v1/licenses/consumption")).Content.ReadAsStringAsync();
        Assert.DoesNotContain("secret-app", consumption);
        Assert.Contains("gil", consumption);
        var users = await (await globexRead.GetAsync("/api/v1/usage/users")).Content.ReadAsStringAsync();
        Assert.DoesNotContain("ann", users);
    }

    [Fact]
    public async Task ApiKeys_UnknownTenant_404()
    {
        using var admin = _server.Client();
        var response = await admin.PostAsJsonAsync("/api/v1/tenants/nobody/api-keys", new { role = "read" });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Tenants_CreateTwice_409()
    {
        using var admin = _server.Client();
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsJsonAsync("/api/v1/tenants", new { id = "acme", name = "again" })).StatusCode);
    }

    [Fact]
    public async Task Health_NeedsNoKey()
    {
        using var anonymous = _server.Client(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);
    }
}
