using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Tally.Server.Tests;

/// <summary>Responses travel compressed, except the answers that carry a secret (BREACH: docs/security.md).</summary>
public sealed class CompressionTests
{
    private static HttpRequestMessage Get(string path, string acceptEncoding, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.AcceptEncoding.ParseAdd(acceptEncoding);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return request;
    }

    [Theory]
    [InlineData("/dashboard/js/main.js", "br", "br")]
    [InlineData("/dashboard/app.css", "gzip", "gzip")]
    [InlineData("/", "gzip, br", "br")]
    [InlineData("/", "br;q=0, gzip", "gzip")]
    public async Task DashboardFile_AskedCompressed_IsSmallerAndNamesItsEncoding(string path, string accept, string encoding)
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(null);
        var plain = await client.GetByteArrayAsync(path);
        var answer = await client.SendAsync(Get(path, accept));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal([encoding], answer.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", answer.Headers.Vary);
        var body = await answer.Content.ReadAsByteArrayAsync();
        Assert.True(body.Length * 2 < plain.Length, $"{encoding}: {body.Length} of {plain.Length} bytes");
        await using var decoded = encoding == "br"
            ? new System.IO.Compression.BrotliStream(new MemoryStream(body), System.IO.Compression.CompressionMode.Decompress)
            : (Stream)new System.IO.Compression.GZipStream(new MemoryStream(body), System.IO.Compression.CompressionMode.Decompress);
        using var copy = new MemoryStream();
        await decoded.CopyToAsync(copy);
        Assert.Equal(plain, copy.ToArray());
    }

    [Fact]
    public async Task DashboardFile_RevalidatedWithItsETag_Answers304WithoutABody()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.Client(null);
        var first = await client.SendAsync(Get("/dashboard/js/main.js", "br"));
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.Contains("no-cache", first.Headers.CacheControl!.ToString());
        var again = Get("/dashboard/js/main.js", "br");
        again.Headers.IfNoneMatch.Add(etag);
        var revalidated = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Empty(await revalidated.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, revalidated.Headers.ETag);
    }

    [Fact]
    public async Task ReadApi_AskedCompressed_AnswersBrotli()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var client = server.Client(null);
        var answer = await client.SendAsync(Get("/api/v1/usage/summary", "br", acme.Read));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(["br"], answer.Content.Headers.ContentEncoding);
    }

    [Fact]
    public async Task AnswersCarryingASecret_AreNeverCompressed()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var client = server.Client(null);
        async Task<HttpResponseMessage> PostAsync(string path, object body, string key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.AcceptEncoding.ParseAdd("br, gzip");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return await client.SendAsync(request);
        }
        // A new key from the bootstrap key, from a tenant admin, and a webhook channel's signing secret.
        var answers = new[]
        {
            await PostAsync("/api/v1/tenants/acme/api-keys", new { role = "read" }, TestServer.AdminKey),
            await PostAsync("/api/v1/api-keys", new { role = "ingest" }, acme.Admin),
            await PostAsync("/api/v1/alerts/channels", new { kind = "webhook", url = "https://hooks.example.com/tally" }, acme.Admin),
        };
        foreach (var answer in answers)
        {
            Assert.Equal(HttpStatusCode.Created, answer.StatusCode);
            Assert.Empty(answer.Content.Headers.ContentEncoding);
            var json = await answer.Content.ReadAsStringAsync();
            Assert.True(json.Contains("\"key\":\"tally_", StringComparison.Ordinal) || json.Contains("\"secret\":\"whsec_", StringComparison.Ordinal), json);
        }
    }
}
