using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Tally.Server.Tests;

/// <summary>What the dashboard's polling stands on: ETags with 304 on the read API, the ledger version, denials per reason.</summary>
public sealed class UsageFeedTests
{
    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, EntityTagHeaderValue? etag = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (etag is not null)
        {
            request.Headers.IfNoneMatch.Add(etag);
        }
        return await client.SendAsync(request);
    }

    [Theory]
    [InlineData("/api/v1/usage/summary")]
    [InlineData("/api/v1/usage/version")]
    [InlineData("/api/v1/usage/users?limit=10")]
    [InlineData("/api/v1/usage/denials")]
    public async Task ReadAnswer_RevalidatedWithItsETag_Is304_UntilAnEventIsRecorded(string path)
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000));
        using var read = server.Client(acme.Read);
        var first = await GetAsync(read, path);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);
        Assert.Contains("no-cache", first.Headers.CacheControl!.ToString());

        var again = await GetAsync(read, path, etag);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Empty(await again.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, again.Headers.ETag);
        // Another tag, or none, gets the body.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(read, path, new EntityTagHeaderValue("\"other\""))).StatusCode);

        using var ingest = server.Client(acme.Ingest);
        server.Time.Advance(TimeSpan.FromMinutes(1));
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" });
        server.Time.Advance(TimeSpan.FromMinutes(7));
        using var admin = server.Client(acme.Admin);
        (await admin.PutAsJsonAsync("/api/v1/users/ann", new { allocation = "capacity", capMinutes = 6 })).EnsureSuccessStatusCode();
        Assert.Equal("denied", (await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "select" }))[0].Decision());
        var changed = await GetAsync(read, path, etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag);
    }

    [Fact]
    public async Task Version_GrowsWithEveryEvent_AndWithEveryTermsChange()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        using var read = server.Client(acme.Read);
        var before = await (await read.GetAsync("/api/v1/usage/version")).Json();
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000));
        var licensed = await (await read.GetAsync("/api/v1/usage/version")).Json();
        Assert.True(licensed.GetProperty("terms").GetInt64() > before.GetProperty("terms").GetInt64(), $"{before} then {licensed}");
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }, new { user = "ann", app = "a", action = "select" });
        var after = await (await read.GetAsync("/api/v1/usage/version")).Json();
        Assert.Equal(licensed.GetProperty("events").GetInt64() + 2, after.GetProperty("events").GetInt64());
    }

    [Fact]
    public async Task Version_IsWhatTheLedgerHolds_ADuplicateMovesNothing_ARestartKeepsIt()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var acme = await server.TenantAsync("acme");
            await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000));
            using var ingest = server.Client(acme.Ingest);
            await ingest.SendEventsAsync(new { id = "e1", user = "ann", app = "a", action = "open-app" });
            using var read = server.Client(acme.Read);
            var first = (await (await read.GetAsync("/api/v1/usage/version")).Json()).GetRawText();
            Assert.Equal("""{"events":1,"terms":1}""", first);

            // The duplicate is answered but not recorded: no report changes, so the version does not either.
            await ingest.SendEventsAsync(new { id = "e1", user = "ann", app = "a", action = "open-app" });
            Assert.Equal(first, (await (await read.GetAsync("/api/v1/usage/version")).Json()).GetRawText());

            server = await server.RestartAsync();
            using var again = server.Client(acme.Read);
            Assert.Equal(first, (await (await again.GetAsync("/api/v1/usage/version")).Json()).GetRawText());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Denials_CountEachUsersRefusals_PerTheReasonTheLedgerRecorded()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(1, 1000));
        using var admin = server.Client(acme.Admin);
        (await admin.PutAsJsonAsync("/api/v1/users/ann", new { allocation = "capacity", capMinutes = 6 })).EnsureSuccessStatusCode();
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "open-app" }, new { user = "bob", app = "a", action = "open-app" });
        server.Time.Advance(TimeSpan.FromMinutes(7));
        var results = await ingest.SendEventsAsync(new { user = "ann", app = "a", action = "select" }, new { user = "ann", app = "b", action = "select" });
        Assert.All(results.EnumerateArray(), r => Assert.Equal("user-cap-reached", r.GetProperty("reason").GetString()));

        using var read = server.Client(acme.Read);
        var denials = await (await read.GetAsync("/api/v1/usage/denials")).Json();
        Assert.Equal(1, denials.GetProperty("total").GetInt32());
        var ann = Assert.Single(denials.GetProperty("users").EnumerateArray());
        Assert.Equal("ann", ann.GetProperty("user").GetString());
        Assert.Equal(2, ann.GetProperty("deniedEvents").GetInt64());
        var reason = Assert.Single(ann.GetProperty("reasons").EnumerateObject());
        Assert.Equal(("user-cap-reached", 2L), (reason.Name, reason.Value.GetInt64()));
        // The same count the users report has.
        var users = await (await read.GetAsync("/api/v1/usage/users?sort=denied")).Json();
        Assert.Equal(2, users.GetProperty("users")[0].GetProperty("deniedEvents").GetInt64());

        Assert.Equal(HttpStatusCode.BadRequest, (await read.GetAsync("/api/v1/usage/denials?period=2026-13")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await read.GetAsync("/api/v1/usage/denials?limit=0")).StatusCode);
        var empty = await (await read.GetAsync("/api/v1/usage/denials?period=2026-01")).Json();
        Assert.Equal(0, empty.GetProperty("total").GetInt32());
    }
}
