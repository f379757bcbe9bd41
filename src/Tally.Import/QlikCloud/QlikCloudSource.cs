using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Xml;

namespace Tally.Import.QlikCloud;

/// <summary>
/// How many items this source asks Qlik Cloud for per page (Qlik's bounds: consumption 1..200, assignments 1..100),
/// and the most pages one read follows: 100,000 (20 million consumption records), since a tenant's address is the
/// tenant admin's choice, and a server that hands out new next links forever must end the pull, not hold it.
/// </summary>
public sealed record QlikCloudPaging(int ConsumptionLimit = 200, int AssignmentsLimit = 100, int MaxPages = 100_000)
{
    public static QlikCloudPaging Default { get; } = new();
}

/// <summary>
/// A Qlik Cloud tenant's licenses API as a source of observed usage (rule R13), read with an API key. Every page link
/// the tenant hands back is checked before it is followed: the key is only ever sent to the configured tenant's
/// scheme, host and port, so a link (or a redirect) to anywhere else stops the read instead of leaking the key.
/// </summary>
public sealed class QlikCloudSource : IUsageSource, IDisposable
{
    private const string ConsumptionPath = "/api/v1/licenses/consumption";
    private const string OverviewPath = "/api/v1/licenses/overview";
    private const string AssignmentsPath = "/api/v1/licenses/assignments";

    private readonly Uri _tenant;
    private readonly AuthenticationHeaderValue _authorization;
    private readonly QlikCloudPaging _paging;
    private readonly HttpClient _http;

    /// <param name="tenant">The tenant's address, e.g. <c>https://acme.eu.qlikcloud.com</c>.</param>
    /// <param name="apiKey">The API key, sent as a bearer token to <paramref name="tenant"/> only.</param>
    /// <param name="time">The clock the retries wait on.</param>
    /// <param name="retry">How hard to retry (<see cref="SourceRetry.Default"/> when null).</param>
    /// <param name="paging">Page sizes (<see cref="QlikCloudPaging.Default"/>, Qlik's largest, when null).</param>
    /// <param name="connect">How connections are opened: the server passes its address rule (public addresses only, checked on the
    /// address really connected to), so a tenant admin cannot aim a source at the server's own network; null: directly.</param>
    public QlikCloudSource(Uri tenant, string apiKey, TimeProvider time, SourceRetry? retry = null, QlikCloudPaging? paging = null,
        Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect = null)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        if (!tenant.IsAbsoluteUri || tenant.Scheme is not ("https" or "http"))
        {
            throw new ArgumentException($"The tenant address must be an absolute http(s) URL; '{tenant}' is not.", nameof(tenant));
        }
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        _paging = paging ?? QlikCloudPaging.Default;
        if (_paging.ConsumptionLimit is < 1 or > 200 || _paging.AssignmentsLimit is < 1 or > 100 || _paging.MaxPages < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(paging), _paging, "Qlik pages consumption by 1 to 200 and assignments by 1 to 100; a read follows at least one page.");
        }
        _tenant = tenant;
        _authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        // No automatic redirects: the handler would follow one to any host, and the tenant's API never redirects a read.
        _http = SourceHttp.Create(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectCallback = connect }, time, retry);
    }

    public async IAsyncEnumerable<ObservedRecord> RecordsSince(DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellation)
    {
        // Qlik's SCIM filter compares with a quoted ISO 8601 instant; milliseconds in UTC, rounded down, so the read
        // starts at or before `since` and never skips a record that ended within the same millisecond.
        var from = new DateTimeOffset(since.UtcTicks - since.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
        var filter = $"endTime ge \"{from.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)}\"";
        var first = new Uri(_tenant, $"{ConsumptionPath}?filter={Uri.EscapeDataString(filter)}&sort=%2BendTime&limit={_paging.ConsumptionLimit}");
        await foreach (var (page, number) in PagesAsync<QlikConsumptionPageWire>(first, "Qlik Cloud consumption page", p => p.Links, cancellation).ConfigureAwait(false))
        {
            var data = page.Data ?? throw Malformed("consumption", number, "has no 'data' list");
            for (var i = 0; i < data.Count; i++)
            {
                yield return Record(data[i], number, i);
            }
        }
    }

    public async Task<ObservedLicense> LicenseAsync(CancellationToken cancellation)
    {
        var overview = await ReadAsync<QlikOverviewWire>(new Uri(_tenant, OverviewPath), "Qlik Cloud license overview", cancellation).ConfigureAwait(false);
        var allotments = overview.Allotments ?? throw Malformed("license overview", null, "has no 'allotments' list");
        QlikAllotmentWire? Named(string name) => allotments.FirstOrDefault(a => string.Equals(a?.Name, name, StringComparison.OrdinalIgnoreCase));
        // analyzer_time is the capacity pool in minutes (its overage -1 when unbounded); professional and analyzer are
        // seat allotments, whose units are the seats the license grants.
        var pool = Named("analyzer_time");
        var (validFrom, validTo) = Validity(overview.Valid);
        return new ObservedLicense(
            IncludedMinutes: pool?.Units, UsedMinutes: pool?.UnitsUsed, OverageMinutes: pool?.Overage,
            ProfessionalSeats: Seats(Named("professional")), AnalyzerSeats: Seats(Named("analyzer")),
            ValidFrom: validFrom, ValidTo: overview.LatestValidTime ?? validTo,
            LicenseNumber: string.IsNullOrEmpty(overview.LicenseNumber) ? null : overview.LicenseNumber);
    }

    public async Task<IReadOnlyList<ObservedSeat>> SeatsAsync(CancellationToken cancellation)
    {
        var seats = new List<ObservedSeat>();
        var first = new Uri(_tenant, $"{AssignmentsPath}?limit={_paging.AssignmentsLimit}");
        await foreach (var (page, number) in PagesAsync<QlikAssignmentsPageWire>(first, "Qlik Cloud assignments page", p => p.Links, cancellation).ConfigureAwait(false))
        {
            var data = page.Data ?? throw Malformed("assignments", number, "has no 'data' list");
            for (var i = 0; i < data.Count; i++)
            {
                var a = data[i] ?? throw Malformed("assignments", number, $"data[{i}] is not an object");
                seats.Add(new ObservedSeat(
                    Required(a.Subject, "assignments", number, i, "subject"), Required(a.Type, "assignments", number, i, "type"), a.Created));
            }
        }
        return seats;
    }

    /// <summary>
    /// The pages from <paramref name="first"/> on, following <c>links.next.href</c> (relative or absolute) to the end.
    /// A link already followed is fetched once more, since a cache or proxy can hand back a stale copy of the page
    /// before (whose next link is the one just read; its records then come twice, which the caller drops); a link that
    /// comes back a third time is a paging loop and stops the read.
    /// </summary>
    private async IAsyncEnumerable<(TPage Page, int Number)> PagesAsync<TPage>(Uri first, string what, Func<TPage, QlikPageLinks?> links,
        [EnumeratorCancellation] CancellationToken cancellation)
    {
        var followed = new Dictionary<Uri, int>();
        Uri? next = first;
        for (var number = 1; next is not null; number++)
        {
            if (number > _paging.MaxPages)
            {
                throw new SourceException(SourceFailure.BadResponse,
                    $"{what} {number}: more than {_paging.MaxPages:N0} pages in one read, more than a real tenant has; the read stopped.");
            }
            followed[next] = followed.GetValueOrDefault(next) + 1;
            var page = await ReadAsync<TPage>(next, what, cancellation).ConfigureAwait(false);
            yield return (page, number);
            next = links(page)?.Next?.Href is { Length: > 0 } href ? NextPage(href, next, what, number) : null;
            if (next is not null && followed.GetValueOrDefault(next) >= 2)
            {
                throw new SourceException(SourceFailure.BadResponse,
                    $"{what} {number}: links.next leads back to a page already read twice ({next.GetLeftPart(UriPartial.Path)}): the tenant's paging loops, so the read stopped.");
            }
        }
    }

    /// <summary>Where a next link points, resolved against the page it came from, if it is on the tenant; else the read stops.</summary>
    private Uri NextPage(string href, Uri current, string what, int number)
    {
        if (!Uri.TryCreate(current, href, out var next))
        {
            throw new SourceException(SourceFailure.BadResponse, $"{what} {number}: links.next.href is not a URL.");
        }
        if (!IsOnTenant(next))
        {
            var elsewhere = next.IsAbsoluteUri ? $"{next.Scheme}://{next.Authority}" : href;
            throw new SourceException(SourceFailure.BadResponse,
                $"{what} {number}: links.next points to {elsewhere}, not to the tenant {_tenant.Scheme}://{_tenant.Authority}; the API key is only sent to the tenant, so the read stopped (is a proxy in front of the tenant rewriting the Host header?).");
        }
        return next;
    }

    private bool IsOnTenant(Uri uri) =>
        uri.IsAbsoluteUri && uri.Scheme == _tenant.Scheme && uri.Port == _tenant.Port
        && string.Equals(uri.IdnHost, _tenant.IdnHost, StringComparison.OrdinalIgnoreCase);

    private Task<T> ReadAsync<T>(Uri address, string what, CancellationToken cancellation)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, address);
        request.Headers.Authorization = _authorization;
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return SourceHttp.ReadJsonAsync<T>(_http, request, JsonSerializerOptions.Web, what, cancellation);
    }

    private static ObservedRecord Record(QlikConsumptionRecordWire? r, int page, int index)
    {
        if (r is null)
        {
            throw Malformed("consumption", page, $"data[{index}] is not an object");
        }
        var id = Required(r.Id, "consumption", page, index, "id");
        var end = r.EndTime ?? throw Malformed("consumption", page, $"data[{index}] (id {id}) has no endTime");
        TimeSpan duration;
        try
        {
            duration = XmlConvert.ToTimeSpan(Required(r.Duration, "consumption", page, index, "duration"));
        }
        catch (FormatException)
        {
            throw Malformed("consumption", page, $"data[{index}] (id {id}): duration '{Shorten(r.Duration!)}' is not an ISO 8601 duration");
        }
        return new ObservedRecord(id, Required(r.UserId, "consumption", page, index, "userId"), r.AppId ?? "", r.SessionId ?? "",
            end, duration,
            Minutes: r.MinutesUsed ?? throw Malformed("consumption", page, $"data[{index}] (id {id}) has no minutesUsed"),
            Units: r.CapacityUsed ?? throw Malformed("consumption", page, $"data[{index}] (id {id}) has no capacityUsed"),
            LicenseUsage: r.LicenseUsage ?? "", Allotment: string.IsNullOrEmpty(r.AllotmentId) ? null : r.AllotmentId);
    }

    private static int? Seats(QlikAllotmentWire? allotment) => allotment?.Units is { } units ? (int)Math.Min(units, int.MaxValue) : null;

    /// <summary>Qlik's <c>valid</c>, an ISO 8601 interval (<c>2026-01-01/2026-12-31</c> or with times); either end may be open (<c>.</c>).</summary>
    private static (DateTimeOffset? From, DateTimeOffset? To) Validity(string? valid)
    {
        if (valid?.Split('/') is not [var from, var to])
        {
            return (null, null);
        }
        static DateTimeOffset? Instant(string text) =>
            DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        return (Instant(from), Instant(to));
    }

    private static string Required(string? value, string what, int page, int index, string field) =>
        string.IsNullOrEmpty(value) ? throw Malformed(what, page, $"data[{index}] has no {field}") : value;

    private static SourceException Malformed(string what, int? page, string problem) =>
        new(SourceFailure.BadResponse, $"Qlik Cloud {what}{(page is { } n ? $" page {n}" : "")}: {problem}.");

    private static string Shorten(string s) => s.Length > 40 ? s[..40] + "…" : s;

    public void Dispose() => _http.Dispose();
}
