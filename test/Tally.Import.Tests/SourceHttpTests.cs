using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Tally.Import.Tests;

/// <summary>
/// The client every source reads through, against a real loopback server: it retries what may pass (a 429 with its
/// Retry-After, a 503) and turns what will not into the reason an admin can act on.
/// </summary>
public sealed class SourceHttpTests : IAsyncDisposable
{
    private static readonly SourceRetry Quick = new(3, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
    private readonly WebApplication _app;
    private readonly HttpClient _client = SourceHttp.Create(new SocketsHttpHandler(), TimeProvider.System, Quick);
    private int _calls;

    public SourceHttpTests()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapGet("/flaky", (HttpContext http) =>
        {
            var call = Interlocked.Increment(ref _calls);
            if (call == 1)
            {
                http.Response.Headers.RetryAfter = "0";
                return Results.StatusCode(429);
            }
            return call == 2 ? Results.StatusCode(503) : Results.Json(new { n = call });
        });
        _app.MapGet("/down", () => { Interlocked.Increment(ref _calls); return Results.StatusCode(502); });
        _app.MapGet("/refused", () => Results.StatusCode(401));
        _app.MapGet("/forbidden", () => Results.StatusCode(403));
        _app.MapGet("/broken", () => Results.Text("{\"n\": [1, 2", "application/json"));
        // An answer that never ends (no length announced): a JSON string that grows until the reader stops.
        _app.MapGet("/endless", async (HttpContext http) =>
        {
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync("{\"n\": 1, \"pad\": \"");
            var chunk = new string('x', 64 * 1024);
            while (!http.RequestAborted.IsCancellationRequested)
            {
                await http.Response.WriteAsync(chunk, http.RequestAborted);
            }
        });
        _app.MapGet("/announced", () => Results.Text("{\"n\": 1, \"pad\": \"" + new string('x', 300_000) + "\"}", "application/json"));
        _app.StartAsync().GetAwaiter().GetResult();
    }

    private Uri Url(string path) => new(new Uri(_app.Urls.First()), path);

    private Task<Counted> Read(string path) =>
        SourceHttp.ReadJsonAsync<Counted>(_client, new HttpRequestMessage(HttpMethod.Get, Url(path)), JsonSerializerOptions.Web, "test read", CancellationToken.None);

    private sealed record Counted(int N);

    [Fact]
    public async Task A429ThenA503_AreRetried_TheThirdAnswerIsRead()
    {
        Assert.Equal(3, (await Read("/flaky")).N);
        Assert.Equal(3, _calls);
    }

    [Fact]
    public async Task A5xxThatStays_IsUnreachableAfterTheRetries()
    {
        var e = await Assert.ThrowsAsync<SourceException>(() => Read("/down"));
        Assert.Equal(SourceFailure.Unreachable, e.Failure);
        Assert.Equal(1 + Quick.MaxRetries, _calls);
        Assert.Contains("502", e.Message);
    }

    [Theory]
    [InlineData("/refused", SourceFailure.Unauthorized)]
    [InlineData("/forbidden", SourceFailure.Forbidden)]
    [InlineData("/nothing-here", SourceFailure.NotFound)]
    public async Task ARefusal_IsNamedAndNotRetried(string path, SourceFailure failure)
    {
        var e = await Assert.ThrowsAsync<SourceException>(() => Read(path));
        Assert.Equal(failure, e.Failure);
        Assert.False(e.IsTransient);
    }

    [Fact]
    public async Task ABrokenBody_NamesWhereItBroke()
    {
        var e = await Assert.ThrowsAsync<SourceException>(() => Read("/broken"));
        Assert.Equal(SourceFailure.BadResponse, e.Failure);
        Assert.Contains("line 1", e.Message);
    }

    [Fact]
    public async Task NoServer_IsUnreachable()
    {
        var port = Ports.Free();
        var e = await Assert.ThrowsAsync<SourceException>(() => SourceHttp.ReadJsonAsync<Counted>(_client,
            new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{port}/x")), JsonSerializerOptions.Web, "test read", CancellationToken.None));
        Assert.Equal(SourceFailure.Unreachable, e.Failure);
        Assert.True(e.IsTransient);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Theory]
    [InlineData("/endless")]
    [InlineData("/announced")]
    public async Task AnAnswerLargerThanTheCap_FailsTheRead_BeforeItTakesTheMemory(string path)
    {
        var e = await Assert.ThrowsAsync<SourceException>(() => SourceHttp.ReadJsonAsync<Counted>(_client,
            new HttpRequestMessage(HttpMethod.Get, Url(path)), JsonSerializerOptions.Web, "test read", CancellationToken.None, maxBytes: 200_000));
        Assert.Equal(SourceFailure.BadResponse, e.Failure);
        Assert.Contains("more than 200,000 bytes", e.Message, StringComparison.Ordinal);
    }
}
