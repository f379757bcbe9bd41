using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tally.Import.QlikCloud;

namespace Tally.Import.Tests.QlikCloud;

/// <summary>
/// The Qlik Cloud source against a real Qlik-compatible licenses API (a Tally server on loopback), directly and
/// through a proxy that injects the faults a real tenant's network has.
/// </summary>
public sealed class QlikCloudSourceTests : IAsyncLifetime
{
    // Short waits between attempts; a time-out per attempt no loaded machine reaches on loopback.
    private static readonly SourceRetry Quick = new(6, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(30));

    // For the proxy's "slow" answer (minutes) to time an attempt out: still some fifty times a loopback read's length.
    private static readonly SourceRetry QuickToGiveUp = Quick with { AttemptTimeout = TimeSpan.FromSeconds(5) };
    private static readonly QlikCloudPaging SmallPages = new(ConsumptionLimit: 7, AssignmentsLimit: 1);

    private TallyUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await TallyUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private QlikCloudSource Source(Uri tenant, string? key = null, SourceRetry? retry = null) =>
        new(tenant, key ?? _upstream.Keys.Read, TimeProvider.System, retry ?? Quick, SmallPages);

    private static async Task<List<ObservedRecord>> ReadAll(IUsageSource source, DateTimeOffset since)
    {
        var records = new List<ObservedRecord>();
        await foreach (var record in source.RecordsSince(since, CancellationToken.None))
        {
            records.Add(record);
        }
        return records;
    }

    /// <summary>The ids the upstream itself lists, in its order, read in one page with Tally's own client.</summary>
    private async Task<List<string>> UpstreamIds()
    {
        using var read = _upstream.Server.Client(_upstream.Keys.Read);
        var page = await read.GetFromJsonAsync<JsonElement>("/api/v1/licenses/consumption?limit=200");
        return [.. page.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()!)];
    }

    [Fact]
    public async Task RecordsSince_AcrossPages_EveryUnitOneForOne()
    {
        using var source = Source(_upstream.Address);
        var records = await ReadAll(source, TestServer.Start);

        Assert.True(records.Count > 4 * SmallPages.ConsumptionLimit, $"{records.Count} records are too few to page");
        Assert.Equal(await UpstreamIds(), records.Select(r => r.RecordId));
        Assert.Equal(records.Count, records.Select(r => r.RecordId).Distinct().Count());
        var expected = _upstream.Units.OrderBy(u => u.EndTime).ThenBy(u => u.User, StringComparer.Ordinal).ToList();
        var read = records.Select(r => new ExpectedUnit(r.User, r.App, r.Session, r.EndTime, r.Minutes, r.Units, r.LicenseUsage, r.Allotment!))
            .OrderBy(u => u.EndTime).ThenBy(u => u.User, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, read);
        Assert.All(records, r => Assert.Equal(TimeSpan.FromMinutes(TallyUpstream.UnitMinutes), r.Duration));
        Assert.Equal(records.OrderBy(r => r.EndTime).Select(r => r.EndTime), records.Select(r => r.EndTime)); // +endTime
    }

    [Fact]
    public async Task RecordsSince_AnInstant_OnlyRecordsEndingThenOrLater()
    {
        using var source = Source(_upstream.Address);
        var cut = _upstream.Units.OrderBy(u => u.EndTime).ElementAt(17).EndTime;
        var records = await ReadAll(source, cut);

        Assert.Equal(_upstream.Units.Where(u => u.EndTime >= cut).Select(u => u.User).Order(), records.Select(r => r.User).Order());
        Assert.Contains(records, r => r.EndTime == cut); // ge: the boundary is in
    }

    [Fact]
    public async Task License_Overview_PoolSeatsAndValidity()
    {
        using var source = Source(_upstream.Address);
        var license = await source.LicenseAsync(CancellationToken.None);

        var usedMinutes = _upstream.Units.Sum(u => u.Minutes);
        Assert.Equal(TallyUpstream.CapacityUsers * TallyUpstream.UnitMinutes, usedMinutes);
        var terms = TestServer.Terms(1, 600);
        Assert.Equal(new ObservedLicense(600, usedMinutes, 60, 2, 1, terms.ValidFrom, terms.ValidTo, "L-acme"), license);
    }

    [Fact]
    public async Task Seats_OnePerPage_EverySeatWithItsTypeAndSince()
    {
        using var source = Source(_upstream.Address);
        var seats = await source.SeatsAsync(CancellationToken.None);

        Assert.Equal(
            [new ObservedSeat("pat", "professional", TestServer.Start), new ObservedSeat("kim", "professional", TestServer.Start.AddMinutes(1)),
                new ObservedSeat("ann", "analyzer", TestServer.Start.AddMinutes(2))],
            seats);
    }

    [Fact]
    public async Task RecordsSince_ThroughRetriedFaultsAndARepeatedPage_TheSameRecords()
    {
        using var direct = Source(_upstream.Address);
        var expected = await ReadAll(direct, TestServer.Start);
        await using var proxy = await FaultProxy.StartAsync(_upstream.Address);
        Fault[] faults =
        [
            new Fault.TooManyRequests(0), new Fault.Pass(), // page 1 after a 429
            new Fault.ServerError(500), new Fault.Reset(), new Fault.Pass(), // page 2 after a 500 and a reset connection
            new Fault.Slow(TimeSpan.FromMinutes(2)), new Fault.Slow(TimeSpan.FromMilliseconds(200)), // page 3: one attempt times out, the next is slow
            new Fault.RepeatPrevious(), new Fault.Pass(), // page 4's request answered with page 3 again; page 4 on the next
            new Fault.ServerError(503), new Fault.TooManyRequests(1), // page 5 after a 503 and a 429 with a second's wait
        ];
        proxy.Script(faults);
        using var source = Source(proxy.Address, retry: QuickToGiveUp);
        var records = await ReadAll(source, TestServer.Start);

        Assert.Equal(0, proxy.Pending);
        Assert.Equal(faults, proxy.Injected);
        // The repeated page's records come twice: the source hands on what the tenant answered, and the caller keeps
        // one record per id (R13). Nothing else repeats, and nothing is missing.
        Assert.Equal(expected.Select(r => r.RecordId), records.Select(r => r.RecordId).Distinct());
        Assert.Equal(expected.Take(3 * SmallPages.ConsumptionLimit).Skip(2 * SmallPages.ConsumptionLimit),
            records.GroupBy(r => r.RecordId).Where(g => g.Count() > 1).Select(g => g.First()));
        Assert.Equal(expected.Count + SmallPages.ConsumptionLimit, records.Count);
        // Every page reached the upstream once. The attempt the client gave up on never did (the proxy was still
        // waiting), the short wait did; every other fault was answered by the proxy alone.
        var pages = (expected.Count + SmallPages.ConsumptionLimit - 1) / SmallPages.ConsumptionLimit;
        Assert.Equal(pages, proxy.Forwarded);
        Assert.Equal(pages + faults.Count(f => f is not (Fault.Pass or Fault.Slow { Delay.TotalSeconds: < 1 })), proxy.Requests);
    }

    [Fact]
    public async Task RecordsSince_AHeldBackRecord_ArrivesOnTheNextPullWithAnOverlappingSince()
    {
        using var direct = Source(_upstream.Address);
        var expected = await ReadAll(direct, TestServer.Start);
        await using var proxy = await FaultProxy.StartAsync(_upstream.Address);
        var late = expected[^3];
        proxy.HoldBack(late.RecordId);
        using var source = Source(proxy.Address);

        var first = await ReadAll(source, TestServer.Start);
        Assert.DoesNotContain(first, r => r.RecordId == late.RecordId);
        Assert.Equal(expected.Count - 1, first.Count);
        // The next pull overlaps what the last one read by an hour, as a caller does to catch records that arrive late.
        var second = await ReadAll(source, first.Max(r => r.EndTime).AddHours(-1));

        Assert.Equal([late.RecordId], proxy.HeldBack);
        Assert.Equal(late, Assert.Single(second, r => r.RecordId == late.RecordId));
        Assert.Equal(expected.Select(r => r.RecordId).Order(), first.Concat(second).Select(r => r.RecordId).Distinct().Order());
    }

    [Fact]
    public async Task RecordsSince_RelativeNextLinks_AreFollowedOnTheTenant()
    {
        using var direct = Source(_upstream.Address);
        var expected = await ReadAll(direct, TestServer.Start);
        await using var proxy = await FaultProxy.StartAsync(_upstream.Address, relativeLinks: true);
        using var source = Source(proxy.Address);

        var records = await ReadAll(source, TestServer.Start);

        Assert.Equal(expected, records);
        Assert.Equal((expected.Count + SmallPages.ConsumptionLimit - 1) / SmallPages.ConsumptionLimit, proxy.Forwarded);
    }

    [Fact]
    public async Task RecordsSince_ALinkThatKeepsComingBack_IsALoopAndTheReadStops()
    {
        await using var proxy = await FaultProxy.StartAsync(_upstream.Address);
        // Page 2's request is answered with page 1 twice over: its next link leads to page 2 a third time.
        proxy.Script(new Fault.Pass(), new Fault.RepeatPrevious(), new Fault.RepeatPrevious());
        using var source = Source(proxy.Address);

        var e = await Assert.ThrowsAsync<SourceException>(() => ReadAll(source, TestServer.Start));
        Assert.Equal(SourceFailure.BadResponse, e.Failure);
        Assert.Contains("loops", e.Message);
        Assert.Equal(3, proxy.Requests);
    }

    [Fact]
    public async Task RecordsSince_MorePagesThanTheCap_StopsTheRead()
    {
        // 31 records at 7 a page are 5 pages; a cap of 3 is what a source handing out new links forever meets.
        using var source = new QlikCloudSource(_upstream.Address, _upstream.Keys.Read, TimeProvider.System, Quick, SmallPages with { MaxPages = 3 });

        var e = await Assert.ThrowsAsync<SourceException>(() => ReadAll(source, TestServer.Start));
        Assert.Equal(SourceFailure.BadResponse, e.Failure);
        Assert.Contains("more than 3 pages in one read", e.Message, StringComparison.Ordinal);
        Assert.Equal(5, (await ReadAll(Source(_upstream.Address), TestServer.Start)).Count / SmallPages.ConsumptionLimit + 1);
    }

    [Fact]
    public async Task RecordsSince_ANextLinkToAnotherHost_StopsBeforeTheKeyGoesThere()
    {
        // The stranger is the upstream's own front; the source is pointed at a proxy that forwards without keeping
        // the Host header, so the upstream's links name the stranger, not the tenant the source was given.
        await using var stranger = await FaultProxy.StartAsync(_upstream.Address);
        await using var front = await FaultProxy.StartAsync(stranger.Address, keepHost: false);
        using var source = Source(front.Address);

        var e = await Assert.ThrowsAsync<SourceException>(() => ReadAll(source, TestServer.Start));
        Assert.Equal(SourceFailure.BadResponse, e.Failure);
        Assert.Contains($"links.next points to {stranger.Address.GetLeftPart(UriPartial.Authority)}", e.Message);
        Assert.DoesNotContain(_upstream.Keys.Read, e.Message);
        Assert.Equal(1, front.Requests);
        Assert.Equal(front.Forwarded, stranger.Requests); // nothing reached the stranger but what the front passed on
    }

    [Fact]
    public async Task EveryRead_ABadKey_IsUnauthorizedAndTheMessageHasNoKey()
    {
        const string wrong = "not-a-key-of-this-tenant-0123456789";
        using var source = Source(_upstream.Address, wrong);

        var reads = new Func<Task>[] { () => ReadAll(source, TestServer.Start), () => source.LicenseAsync(CancellationToken.None), () => source.SeatsAsync(CancellationToken.None) };
        foreach (var read in reads)
        {
            var e = await Assert.ThrowsAsync<SourceException>(read);
            Assert.Equal(SourceFailure.Unauthorized, e.Failure);
            Assert.Contains("refused the credentials (401)", e.Message);
            Assert.DoesNotContain(wrong, e.Message);
            Assert.False(e.IsTransient);
        }
    }

    [Fact]
    public async Task EveryRead_AKeyWithoutReadPermission_IsForbidden()
    {
        // The tenant's ingest key is a real key of the right tenant that may not read licenses.
        using var source = Source(_upstream.Address, _upstream.Keys.Ingest);

        var e = await Assert.ThrowsAsync<SourceException>(() => source.SeatsAsync(CancellationToken.None));
        Assert.Equal(SourceFailure.Forbidden, e.Failure);
        Assert.Contains("(403)", e.Message);
        Assert.DoesNotContain(_upstream.Keys.Ingest, e.Message);
    }

    [Fact]
    public async Task RecordsSince_AnAddressThatIsNotTheApi_IsNotFound()
    {
        await using var other = await ServingAsync("/somewhere-else", _ => Results.Ok());
        using var source = Source(new Uri(other.Urls.First()));

        var e = await Assert.ThrowsAsync<SourceException>(() => source.LicenseAsync(CancellationToken.None));
        Assert.Equal(SourceFailure.NotFound, e.Failure);
        Assert.Contains("/api/v1/licenses/overview", e.Message);
    }

    /// <summary>A loopback server that answers <paramref name="path"/> with <paramref name="answer"/> and nothing else.</summary>
    private static async Task<WebApplication> ServingAsync(string path, Func<HttpContext, IResult> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet(path, answer);
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task RecordsSince_ARecordWithABadDuration_IsABadResponseNamingPageAndRecord()
    {
        await using var tenant = await ServingAsync("/api/v1/licenses/consumption", _ => Results.Json(new
        {
            data = new[] { new { id = "r1", appId = "a", userId = "u", sessionId = "s", endTime = TestServer.Start, duration = "six minutes", minutesUsed = 6, capacityUsed = 1, licenseUsage = "time", allotmentId = "analyzer_time" } },
            links = new { },
        }));
        using var source = Source(new Uri(tenant.Urls.First()));

        var e = await Assert.ThrowsAsync<SourceException>(() => ReadAll(source, TestServer.Start));
        Assert.Equal(SourceFailure.BadResponse, e.Failure);
        Assert.Equal("Qlik Cloud consumption page 1: data[0] (id r1): duration 'six minutes' is not an ISO 8601 duration.", e.Message);
    }

    [Fact]
    public async Task LicenseAsync_ARedirect_IsNotFollowed()
    {
        // A redirect could lead anywhere, and the key would travel with the retried request: it is an answer, not a way on.
        await using var stranger = await ServingAsync("/api/v1/licenses/overview", _ => Results.Json(new { allotments = Array.Empty<object>() }));
        await using var tenant = await ServingAsync("/api/v1/licenses/overview",
            _ => Results.Redirect(new Uri(new Uri(stranger.Urls.First()), "/api/v1/licenses/overview").ToString()));
        using var source = Source(new Uri(tenant.Urls.First()));

        var e = await Assert.ThrowsAsync<SourceException>(() => source.LicenseAsync(CancellationToken.None));
        Assert.Equal(SourceFailure.BadResponse, e.Failure);
        Assert.Contains("answered 302", e.Message);
    }

    [Fact]
    public async Task RecordsSince_NothingListening_IsUnreachable()
    {
        using var source = Source(new Uri($"http://127.0.0.1:{Ports.Free()}"));

        var e = await Assert.ThrowsAsync<SourceException>(() => ReadAll(source, TestServer.Start));
        Assert.Equal(SourceFailure.Unreachable, e.Failure);
        Assert.True(e.IsTransient);
    }
}
