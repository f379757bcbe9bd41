using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.Import.Tests;

/// <summary>
/// A tenant admin chooses a source's address, so without a rule a source is a probe of the server's own network. By
/// default (no <c>Tally:Import:AllowPrivateTargets</c>) only public addresses are reached: a literal private address is
/// refused when the source is added, and a name that resolves to one is refused when the pull connects.
/// </summary>
public sealed class SourceTargetTests : IAsyncLifetime
{
    private TestServer _tally = null!;
    private TenantKeys _keys = null!;

    public async Task InitializeAsync()
    {
        _tally = await TestServer.StartAsync(null, null, null, "--Tally:Import:RetryDelay=00:00:00.020", "--Tally:Import:Retries=1");
        _keys = await _tally.TenantAsync("acme");
    }

    public async Task DisposeAsync() => await _tally.DisposeAsync();

    [Theory]
    [InlineData("https://127.0.0.1:4242/")]
    [InlineData("https://169.254.169.254/")]
    [InlineData("https://[::1]/")]
    [InlineData("https://10.1.2.3/")]
    [InlineData("http://qlik.example.com/")]
    public async Task APrivateAddressOrPlainHttp_IsRefusedWhenAdded(string url)
    {
        using var response = await _tally.Client(_keys.Admin).PostAsJsonAsync("/api/v1/sources", new { id = "q", kind = "qlik-cloud", url, apiKey = "0123456789abcdef" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("url:", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ANameThatResolvesToLoopback_IsRefusedWhenThePullConnects_AndTheServerIsNeverReached()
    {
        // This very server listens on loopback: the source names it by a name, which passes the literal check.
        var url = $"https://localhost:{_tally.Address.Port}/";
        using var admin = _tally.Client(_keys.Admin);
        Assert.Equal(HttpStatusCode.Created,
            (await admin.PostAsJsonAsync("/api/v1/sources", new { id = "q", kind = "qlik-cloud", url, apiKey = "0123456789abcdef" })).StatusCode);
        using var pulled = await admin.PostAsync("/api/v1/sources/q/pull", null);
        var result = await pulled.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Unreachable", result.GetProperty("failure").GetString());
        Assert.Contains("public address", result.GetProperty("error").GetString());
    }
}
