using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Tally.Licensing;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Qlik;

/// <summary>
/// Qlik's licenses API (<c>/api/v1/licenses/*</c>) on Tally's own data, in Qlik's shapes, paging and error body, so
/// that Qlik's own client (<c>@qlik/api</c>, module <c>licenses</c>) reads and changes Tally unchanged.
/// docs/qlik-compatibility.md maps every field.
/// </summary>
public static class LicensesEndpoints
{
    public const string Product = "Tally analyzer capacity";

    /// <summary>Qlik's bounds for <c>limit</c>: consumption 1..200 (default 200), assignments 1..100 (default 20).</summary>
    public const int ConsumptionDefaultLimit = 200, ConsumptionMaxLimit = 200, AssignmentsDefaultLimit = 20, AssignmentsMaxLimit = 100;

    /// <summary>Most items one assignments action takes (the body size limit applies too).</summary>
    public const int MaxActionItems = 1000;

    private static readonly Dictionary<string, string[]> ConsumptionFilter = new() { ["endTime"] = ["eq", "gt", "ge", "lt", "le"] };

    private static readonly Dictionary<string, string[]> AssignmentsFilter = new()
    {
        ["subject"] = ["eq", "co", "sw"],
        ["type"] = ["eq"],
        ["created"] = ["eq", "gt", "ge", "lt", "le"],
        ["excess"] = ["eq"],
    };

    public static RouteGroupBuilder MapLicensesApi(this IEndpointRouteBuilder app)
    {
        // The rewrite filter is added first, so it wraps the key check too: a 401 or 403 leaves in Qlik's body as well.
        var group = app.MapGroup("/api/v1/licenses").AddEndpointFilter(QlikErrors.Rewrite).WithTags("Licenses (Qlik-compatible)")
            .WithMetadata([.. new[] { 400, 401, 403 }.Select(status => new ProducesResponseTypeMetadata(status, typeof(QlikErrorResponse), ["application/json"]))]);
        var read = new[] { ApiRole.Read, ApiRole.Admin };
        group.MapGet("/overview", Overview).RequireRole(read).Produces<QlikOverview>().Produces<QlikErrorResponse>(404)
            .WithSummary("The tenant's license and its allotments (Qlik's getLicenseOverview).");
        group.MapGet("/status", Status).RequireRole(read).Produces<QlikStatus>().WithSummary("Whether the license grants access (Qlik's getLicenseStatus).");
        group.MapGet("/settings", (HttpContext http, Tenants tenants) => TypedResults.Ok(Settings(tenants.Writer(http.Tenant()).Snapshot.Config.Plan)))
            .RequireRole(read).Produces<QlikSettings>().WithSummary("The auto-assign switches (Qlik's getLicenseSettings).");
        group.MapPut("/settings", UpdateSettings).RequireRole(ApiRole.Admin).Accepts<QlikSettings>("application/json").Produces<QlikSettings>()
            .WithSummary("Set the auto-assign switches (Qlik's updateLicenseSettings).");
        group.MapGet("/consumption", Consumption).RequireRole(read).Produces<QlikConsumptionPage>()
            .WithSummary("Granted units, paged by opaque cursor (Qlik's getLicenseConsumption).");
        group.MapGet("/assignments", Assignments).RequireRole(read).Produces<QlikAssignmentsPage>()
            .WithSummary("Who holds a Professional or Analyzer seat (Qlik's getLicenseAssignments).");
        group.MapPost("/assignments/actions/add", (HttpContext http, PlanEditor plans, IOptions<TallyOptions> options) =>
                Act<QlikAddRequest>(http, plans, options, "add", r => r.Add, AssignmentActions.Add))
            .RequireRole(ApiRole.Admin).Accepts<QlikAddRequest>("application/json").Produces<QlikItemResults>(207);
        group.MapPost("/assignments/actions/update", (HttpContext http, PlanEditor plans, IOptions<TallyOptions> options) =>
                Act<QlikUpdateRequest>(http, plans, options, "update", r => r.Update, AssignmentActions.Update))
            .RequireRole(ApiRole.Admin).Accepts<QlikUpdateRequest>("application/json").Produces<QlikItemResults>(207);
        group.MapPost("/assignments/actions/delete", (HttpContext http, PlanEditor plans, IOptions<TallyOptions> options) =>
                Act<QlikDeleteRequest>(http, plans, options, "delete", r => r.Delete, AssignmentActions.Delete))
            .RequireRole(ApiRole.Admin).Accepts<QlikDeleteRequest>("application/json").Produces<QlikItemResults>(207);
        return group;
    }

    private static IResult Overview(HttpContext http, Tenants tenants, ITenantCatalog catalog, IUsageReports store, TimeProvider time)
    {
        var writer = tenants.Writer(http.Tenant());
        var snapshot = writer.Snapshot;
        if (writer.ObservedPool is { } observed)
        {
            return ObservedOverview(http.Tenant(), observed, snapshot, writer.ObservedSeats, store, time.GetUtcNow());
        }
        if (snapshot.Config.License is not { } terms || catalog.GetLicense(http.Tenant()) is not { } installed)
        {
            return QlikErrors.Problem(404, QlikCodes.NoLicense, "License not found.", "No license is installed for this tenant: it is metered without a pool (PUT /api/v1/license installs one).");
        }
        var now = time.GetUtcNow();
        var calendar = new PeriodCalendar(snapshot.Config.MeterOptions.TimeZone);
        var period = calendar.PeriodOf(now);
        var usage = store.PeriodUsage(http.Tenant(), period.ToString());
        var overage = terms.Overage.Kind switch { OverageKind.Unlimited => -1, OverageKind.Capped => terms.Overage.CapMinutes, _ => 0L };
        return TypedResults.Ok(new QlikOverview(
            [
                new QlikAllotment("professional", "assigned", terms.ProfessionalSeats, snapshot.ProfessionalSeatsUsed, null),
                new QlikAllotment("analyzer", "assigned", terms.AnalyzerSeats, snapshot.AnalyzerSeatsUsed, null),
                new QlikAllotment("analyzer_time", "time", terms.IncludedMinutes, usage.Minutes, overage),
            ],
            // The key is a credential (it installs the license): only a tenant admin reads it back.
            LicenseKey: http.Caller().Role == ApiRole.Admin ? installed.Key : "",
            LicenseNumber: terms.LicenseId,
            Origin: "External",
            Parameters: [new QlikParameter("analyzerCapacity", Interval(terms), new Dictionary<string, object?>
            {
                ["packs"] = terms.Packs,
                ["packMinutes"] = terms.PackMinutes,
                ["unitMinutes"] = terms.UnitMinutes,
                ["overage"] = terms.Overage.ToString(),
                ["countingMode"] = terms.Mode == CountingMode.App ? "app" : "device",
                ["timeZone"] = terms.TimeZoneId,
                ["anonymousCapacity"] = terms.AnonymousCapacity,
            })],
            Product: Product,
            SecondaryNumber: "",
            Status: terms.IsValidAt(now) ? "Ok" : "Expired",
            Trial: false,
            Updated: installed.Installed,
            Valid: Interval(terms),
            Version: Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(installed.Key))),
            ChangeTime: installed.Installed,
            CustomerId: terms.Customer,
            LatestValidTime: terms.ValidTo,
            Period: new QlikPeriod(period.ToString(), calendar.Start(period), calendar.End(period))));
    }

    /// <summary>
    /// The overview of a tenant that observes a source (R13): the pool, seats and validity its source reported, and this
    /// period's minutes from the ledger, in Qlik's shape, so a tool that reads Tally's overview sees the source's pool.
    /// What the source does not tell (seat usage, the license key) is empty.
    /// </summary>
    private static IResult ObservedOverview(string tenant, Monitoring.ObservedPool observed, TenantSnapshot snapshot, IReadOnlyList<SeatAssignment> seats,
        IUsageReports store, DateTimeOffset now)
    {
        int Held(Allocation seat) => seats.Count(s => s.Seat == seat);
        var calendar = new PeriodCalendar(snapshot.Config.MeterOptions.TimeZone);
        var period = calendar.PeriodOf(now);
        var usage = store.PeriodUsage(tenant, period.ToString());
        var source = observed.Source;
        var (from, to) = (source.ValidFrom ?? calendar.Start(period), source.ValidTo ?? calendar.End(period));
        var valid = $"{Iso(from)}/{Iso(to)}";
        return TypedResults.Ok(new QlikOverview(
            [
                new QlikAllotment("professional", "assigned", source.ProfessionalSeats ?? Held(Allocation.Professional), Held(Allocation.Professional), null),
                new QlikAllotment("analyzer", "assigned", source.AnalyzerSeats ?? Held(Allocation.Analyzer), Held(Allocation.Analyzer), null),
                new QlikAllotment("analyzer_time", "time", observed.IncludedMinutes, usage.Minutes,
                    observed.OverageMinutes switch { long.MaxValue => -1, { } cap => cap, null => 0 }),
            ],
            LicenseKey: "",
            LicenseNumber: source.LicenseNumber ?? "",
            Origin: "External",
            Parameters: [],
            Product: Product,
            SecondaryNumber: "",
            Status: now >= from && now < to ? "Ok" : "Expired",
            Trial: false,
            Updated: now,
            Valid: valid,
            Version: Convert.ToHexStringLower(SHA256.HashData(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(source, JsonBody.Options))),
            ChangeTime: from,
            CustomerId: "",
            LatestValidTime: to,
            Period: new QlikPeriod(period.ToString(), calendar.Start(period), calendar.End(period))));
    }

    private static IResult Status(HttpContext http, Tenants tenants, TimeProvider time)
    {
        var terms = tenants.Writer(http.Tenant()).Snapshot.Config.License;
        var status = terms is null ? "Missing" : terms.IsValidAt(time.GetUtcNow()) ? "Ok" : "Expired";
        return TypedResults.Ok(new QlikStatus(false, "Unavailable", "External", Product, status, false, "Signed", terms is null ? "./." : Interval(terms)));
    }

    /// <summary>An ISO 8601 interval of the validity window, to the second in UTC (<c>start/end</c>, end exclusive).</summary>
    private static string Interval(LicenseTerms terms) => $"{Iso(terms.ValidFrom)}/{Iso(terms.ValidTo)}";

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static QlikSettings Settings(AllocationPlanDto plan) => new(plan.AutoAssignProfessional, plan.AutoAssignAnalyzer);

    private static async Task<IResult> UpdateSettings(HttpContext http, PlanEditor plans, IOptions<TallyOptions> options)
    {
        var read = await JsonBody.ReadAsync<QlikSettings>(http, options.Value.MaxBodyBytes);
        if (!read.IsOk)
        {
            return AsBadBody(read.Error);
        }
        var body = read.Value;
        var edit = await plans.EditAsync(http.Tenant(), current =>
        {
            var next = current with
            {
                AutoAssignProfessional = body.AutoAssignProfessional ?? current.AutoAssignProfessional,
                AutoAssignAnalyzer = body.AutoAssignAnalyzer ?? current.AutoAssignAnalyzer,
            };
            return (next == current ? null : next, Settings(next));
        });
        return edit.IsOk ? TypedResults.Ok(edit.Value.Result) : PlanRefused(edit.Error);
    }

    /// <summary>
    /// The edited plan was refused as a whole (it does not fit the license, e.g. after a license with fewer seats was
    /// installed): nothing was saved.
    /// </summary>
    private static IResult PlanRefused(Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult p) =>
        QlikErrors.Problem(400, QlikCodes.PlanDoesNotFit, "The allocation plan does not fit the license.", p.ProblemDetails.Detail ?? "");

    /// <summary>A body the reader refused (not JSON, wrong types, too large) keeps its status and detail, with the body code.</summary>
    private static IResult AsBadBody(Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult p) =>
        QlikErrors.Problem(p.StatusCode, QlikCodes.BadBody, "Body is invalid or missing.", p.ProblemDetails.Detail ?? "");

    // ---------- consumption ----------

    /// <summary>Where a consumption page starts: after (End, Id) going Dir ("next" or "prev"), for one sort and filter.</summary>
    private sealed record ConsumptionCursor(string Dir, long End, long Id, string Sort, string? Filter);

    private static IResult Consumption(HttpContext http, string? filter, string? limit, string? page, string? sort, IUsageReports store, IOptions<TallyOptions> options)
    {
        var read = ReadLimit(limit, ConsumptionDefaultLimit, ConsumptionMaxLimit);
        if (!read.IsOk)
        {
            return read.Error;
        }
        var size = read.Value;
        ConsumptionCursor? cursor = null;
        if (page is not null)
        {
            if (!PageCursor.TryDecode(page, out cursor) || cursor!.Dir is not ("next" or "prev") || !IsConsumptionSort(cursor.Sort))
            {
                return BadCursor();
            }
            if ((sort is not null && Canonical(sort) != cursor.Sort) || (filter is not null && filter != cursor.Filter))
            {
                return BadCursor("this page belongs to another sort or filter; follow the links as they are, or start without 'page'");
            }
            (sort, filter) = (cursor.Sort, cursor.Filter);
        }
        var sortKey = sort is null ? "+endTime" : Canonical(sort);
        if (!IsConsumptionSort(sortKey))
        {
            return QlikErrors.BadQuery($"sort: '{Cut(sort!)}' is not sortable; use endTime, +endTime or -endTime.");
        }
        var query = new UnitQuery(size, Descending: sortKey == "-endTime");
        if (filter is not null)
        {
            var clauses = ScimFilter.Parse(filter, ConsumptionFilter);
            if (!clauses.IsOk)
            {
                return BadFilter(clauses.Error);
            }
            foreach (var clause in clauses.Value)
            {
                if (EventValidation.ParseTime(clause.Value) is not { } instant)
                {
                    return BadFilter($"at {clause.Position}: '{Cut(clause.Value)}' is not an ISO 8601 instant with an offset, e.g. \"2026-03-01T00:00:00Z\"");
                }
                query = Narrow(query, clause.Operator, instant.UtcTicks);
            }
        }
        var backward = cursor?.Dir == "prev";
        if (cursor is not null)
        {
            query = query with { After = new UnitPosition(cursor.End, cursor.Id), Descending = query.Descending ^ backward };
        }
        var result = store.Units(http.Tenant(), query);
        var units = backward ? result.Units.Reverse().ToList() : result.Units;
        // Going forward, a page reached by a cursor has records before it; going back, the page it came from follows.
        var hasNext = backward ? units.Count > 0 : result.HasMore;
        var hasPrev = backward ? result.HasMore : cursor is not null && units.Count > 0;
        QlikLink Link(string dir, StoredUnit at) => PageLink(http, options.Value, "consumption", size, new ConsumptionCursor(dir, at.EndTicks, at.Id, sortKey, filter));
        var links = new QlikLinks(hasNext ? Link("next", units[^1]) : null, hasPrev ? Link("prev", units[0]) : null);
        return TypedResults.Ok(new QlikConsumptionPage([.. units.Select(Record)], links));
    }

    private static QlikConsumptionRecord Record(StoredUnit u)
    {
        var length = TimeSpan.FromTicks(u.EndTicks - u.StartTicks);
        var unitMinutes = Math.Max(1, (long)length.TotalMinutes);
        return new QlikConsumptionRecord(
            // An observed unit keeps the session its source reported (R13); Tally's own session is the user and device.
            u.Id.ToString(CultureInfo.InvariantCulture), u.App, u.User, u.Session ?? (u.Device.Length == 0 ? u.User : $"{u.User}/{u.Device}"),
            new DateTimeOffset(u.EndTicks, TimeSpan.Zero), XmlConvert.ToString(length),
            MinutesUsed: u.Minutes,
            // Qlik counts analyzer capacity in chunks (one per unit drawn from the pool); a named user's unit draws none.
            CapacityUsed: u.Minutes / unitMinutes,
            u.LicenseUsage, u.Allotment);
    }

    private static bool IsConsumptionSort(string sort) => sort is "+endTime" or "-endTime";

    /// <summary>Qlik's sort syntax: a field with an optional + or - prefix; no prefix is ascending.</summary>
    private static string Canonical(string sort) => sort.Length > 0 && sort[0] is '+' or '-' ? sort : "+" + sort;

    private static UnitQuery Narrow(UnitQuery q, string op, long ticks)
    {
        // Several bounds on one side intersect: the tightest one wins.
        UnitQuery From(bool inclusive) =>
            q.EndFromTicks is { } f && (f > ticks || (f == ticks && !q.EndFromInclusive)) ? q : q with { EndFromTicks = ticks, EndFromInclusive = inclusive };
        UnitQuery To(UnitQuery x, bool inclusive) =>
            x.EndToTicks is { } t && (t < ticks || (t == ticks && !x.EndToInclusive)) ? x : x with { EndToTicks = ticks, EndToInclusive = inclusive };
        return op switch
        {
            "gt" => From(false),
            "ge" => From(true),
            "lt" => To(q, false),
            "le" => To(q, true),
            _ => To(From(true), true),
        };
    }

    // ---------- assignments ----------

    /// <summary>Where an assignments page starts: after (Key, Subject) in the order of Sort, going Dir, for one filter.</summary>
    private sealed record AssignmentsCursor(string Dir, string Key, string Subject, string Sort, string? Filter, bool Orphans);

    private static readonly string[] AssignmentSorts = ["subject", "type", "created"];

    private static IResult Assignments(HttpContext http, string? filter, string? limit, string? page, string? sort, string? orphans, Tenants tenants, IOptions<TallyOptions> options)
    {
        var read = ReadLimit(limit, AssignmentsDefaultLimit, AssignmentsMaxLimit);
        if (!read.IsOk)
        {
            return read.Error;
        }
        var size = read.Value;
        bool onlyOrphans = false;
        if (orphans is not null && !bool.TryParse(orphans, out onlyOrphans))
        {
            return QlikErrors.BadQuery($"orphans: '{Cut(orphans)}' is not true or false.");
        }
        AssignmentsCursor? cursor = null;
        if (page is not null)
        {
            if (!PageCursor.TryDecode(page, out cursor) || cursor!.Dir is not ("next" or "prev") || cursor.Key is null || cursor.Subject is null
                || cursor.Sort is not ['+' or '-', .. var cursorField] || !AssignmentSorts.Contains(cursorField))
            {
                return BadCursor();
            }
            if ((sort is not null && Canonical(sort) != cursor.Sort) || (filter is not null && filter != cursor.Filter) || (orphans is not null && onlyOrphans != cursor.Orphans))
            {
                return BadCursor("this page belongs to another sort, filter or orphans choice; follow the links as they are, or start without 'page'");
            }
            (sort, filter, onlyOrphans) = (cursor.Sort, cursor.Filter, cursor.Orphans);
        }
        var sortKey = sort is null ? "+created" : Canonical(sort);
        if (sortKey.Length < 2 || !AssignmentSorts.Contains(sortKey[1..]))
        {
            return QlikErrors.BadQuery($"sort: '{Cut(sort!)}' is not sortable; use subject, type or created, with an optional + or - prefix.");
        }
        // An observing tenant's seats are its source's (R13), as its last pull read them.
        var rows = tenants.Writer(http.Tenant()).Seats.Where(s => !onlyOrphans || !s.Seen);
        if (filter is not null)
        {
            var clauses = ScimFilter.Parse(filter, AssignmentsFilter);
            if (!clauses.IsOk)
            {
                return BadFilter(clauses.Error);
            }
            foreach (var clause in clauses.Value)
            {
                var match = AssignmentMatch(clause);
                if (!match.IsOk)
                {
                    return BadFilter(match.Error);
                }
                rows = rows.Where(match.Value);
            }
        }
        var field = sortKey[1..];
        var descending = sortKey[0] == '-';
        // Keys compare as strings: names ordinally, instants as fixed-width ticks; the subject breaks ties (one seat a user).
        string Key(SeatAssignment s) => field switch
        {
            "subject" => s.User,
            "type" => s.Seat.ToWire(),
            _ => s.Since.UtcTicks.ToString("D20", CultureInfo.InvariantCulture),
        };
        int Compare((string Key, string Subject) a, (string Key, string Subject) b)
        {
            var c = string.CompareOrdinal(a.Key, b.Key);
            c = c != 0 ? c : string.CompareOrdinal(a.Subject, b.Subject);
            return descending ? -c : c;
        }
        var ordered = rows.Select(s => (Key: Key(s), Seat: s)).ToList();
        ordered.Sort((a, b) => Compare((a.Key, a.Seat.User), (b.Key, b.Seat.User)));
        var backward = cursor?.Dir == "prev";
        List<(string Key, SeatAssignment Seat)> selected;
        bool hasNext, hasPrev;
        if (cursor is null)
        {
            selected = [.. ordered.Take(size)];
            (hasNext, hasPrev) = (ordered.Count > size, false);
        }
        else if (!backward)
        {
            var after = ordered.Where(r => Compare((r.Key, r.Seat.User), (cursor.Key, cursor.Subject)) > 0).ToList();
            selected = [.. after.Take(size)];
            (hasNext, hasPrev) = (after.Count > size, selected.Count > 0);
        }
        else
        {
            var before = ordered.Where(r => Compare((r.Key, r.Seat.User), (cursor.Key, cursor.Subject)) < 0).ToList();
            selected = [.. before.Skip(Math.Max(0, before.Count - size))];
            (hasNext, hasPrev) = (selected.Count > 0, before.Count > size);
        }
        QlikLink Link(string dir, (string Key, SeatAssignment Seat) at) =>
            PageLink(http, options.Value, "assignments", size, new AssignmentsCursor(dir, at.Key, at.Seat.User, sortKey, filter, onlyOrphans));
        var links = new QlikLinks(hasNext ? Link("next", selected[^1]) : null, hasPrev ? Link("prev", selected[0]) : null);
        return TypedResults.Ok(new QlikAssignmentsPage([.. selected.Select(r => new QlikAssignment(r.Seat.User, r.Seat.Seat.ToWire(), r.Seat.Since, r.Seat.Excess))], links));
    }

    /// <summary>The seats one clause keeps, or why the clause cannot be applied.</summary>
    private static Outcome<Func<SeatAssignment, bool>, string> AssignmentMatch(ScimClause clause)
    {
        switch (clause.Attribute, clause.Operator)
        {
            case ("subject", "eq"):
                return Keep(s => s.User == clause.Value);
            case ("subject", "co"):
                return Keep(s => s.User.Contains(clause.Value, StringComparison.Ordinal));
            case ("subject", "sw"):
                return Keep(s => s.User.StartsWith(clause.Value, StringComparison.Ordinal));
            case ("type", _):
                return Keep(s => s.Seat.ToWire() == clause.Value);
            case ("excess", _) when clause.Value is "true" or "false":
                return Keep(s => s.Excess == (clause.Value == "true"));
            case ("excess", _):
                return $"at {clause.Position}: excess compares with true or false";
        }
        if (EventValidation.ParseTime(clause.Value) is not { } instant)
        {
            return $"at {clause.Position}: '{Cut(clause.Value)}' is not an ISO 8601 instant with an offset";
        }
        return Keep(clause.Operator switch
        {
            "gt" => s => s.Since > instant,
            "ge" => s => s.Since >= instant,
            "lt" => s => s.Since < instant,
            "le" => s => s.Since <= instant,
            _ => s => s.Since == instant,
        });
    }

    /// <summary>A lambda as a match: C# converts a lambda to a delegate, but not on to the outcome in one step.</summary>
    private static Func<SeatAssignment, bool> Keep(Func<SeatAssignment, bool> match) => match;

    private static async Task<IResult> Act<TRequest>(HttpContext http, PlanEditor plans, IOptions<TallyOptions> options, string name,
        Func<TRequest, IReadOnlyList<QlikAssignmentItem?>?> items, Func<AssignmentBook, QlikAssignmentItem, QlikItemResult> apply) where TRequest : class
    {
        if (plans.Observing(http.Tenant()))
        {
            return QlikErrors.Problem(409, QlikCodes.ObservingTenant, "Conflict.",
                "This tenant observes a source of usage (see /api/v1/sources): its seats are assigned in that Qlik deployment and read from it at each pull, not here.");
        }
        var read = await JsonBody.ReadAsync<TRequest>(http, options.Value.MaxBodyBytes);
        if (!read.IsOk)
        {
            return AsBadBody(read.Error);
        }
        var list = items(read.Value);
        if (list is null)
        {
            return QlikErrors.Problem(400, QlikCodes.BadBody, "Body is invalid or missing.", $"{name}: required, a list of assignments.");
        }
        if (list.Count > MaxActionItems)
        {
            return QlikErrors.Problem(400, QlikCodes.BadBody, "Body is invalid or missing.", $"{name}: {list.Count} items; at most {MaxActionItems} in one request.");
        }
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is not { } item)
            {
                return QlikErrors.Problem(400, QlikCodes.BadBody, "Body is invalid or missing.", $"{name}[{i}]: must be an object.");
            }
            if (string.IsNullOrEmpty(item.Subject))
            {
                return QlikErrors.Problem(400, QlikCodes.BadBody, "Body is invalid or missing.", $"{name}[{i}].subject: required.");
            }
            if (name != "update" && string.IsNullOrEmpty(item.Type))
            {
                return QlikErrors.Problem(400, QlikCodes.BadBody, "Body is invalid or missing.", $"{name}[{i}].type: required.");
            }
        }
        var tenant = http.Tenant();
        var edit = await plans.EditAsync(tenant, current =>
        {
            var book = new AssignmentBook(current, plans.SeatsOf(tenant));
            var results = list.Select(item => apply(book, item!)).ToList();
            return (book.Changed ? book.Plan : null, results);
        });
        return edit.IsOk ? TypedResults.Json(new QlikItemResults(edit.Value.Result), statusCode: StatusCodes.Status207MultiStatus) : PlanRefused(edit.Error);
    }

    // ---------- shared ----------

    /// <summary>The page size asked for (<paramref name="fallback"/> when none), or Qlik's error for a bad one.</summary>
    private static Outcome<int, IResult> ReadLimit(string? text, int fallback, int max)
    {
        if (text is null)
        {
            return fallback;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is >= 1 && limit <= max
            ? limit
            : Outcome<int, IResult>.Fail(QlikErrors.BadQuery($"limit: '{Cut(text)}' is not a whole number from 1 to {max}."));
    }

    private static IResult BadFilter(string error) => QlikErrors.Problem(400, QlikCodes.BadFilter, "Bad request, malformed filter.", $"filter: {error}.");

    private static IResult BadCursor(string? why = null) => QlikErrors.Problem(400, QlikCodes.BadCursor, "Bad request, invalid page.",
        $"page: {why ?? "not a page this server issued; follow links.next or links.prev as they are"}.");

    private static string Cut(string s) => s.Length > 40 ? s[..40] + "…" : s;

    /// <summary>A page link of <c>/api/v1/licenses/{route}</c>: absolute, with the limit and the cursor that carries the rest of the query.</summary>
    private static QlikLink PageLink<TCursor>(HttpContext http, TallyOptions options, string route, int limit, TCursor cursor) =>
        new($"{BaseUrl(http, options)}/api/v1/licenses/{route}?limit={limit}&page={PageCursor.Encode(cursor)}");

    /// <summary>
    /// The absolute address page links start with: the configured public base URL (behind a proxy), else the address
    /// this request came to. Qlik's client fetches links as given, so they must be absolute.
    /// </summary>
    private static string BaseUrl(HttpContext http, TallyOptions options) =>
        options.PublicBaseUrl is { Length: > 0 } configured
            ? configured.TrimEnd('/')
            : $"{http.Request.Scheme}://{http.Request.Host.Value}{http.Request.PathBase.Value}";
}
