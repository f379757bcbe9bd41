using System.Buffers.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Qlik;

// The shapes of Qlik's licenses API (types in @qlik/api's licenses.d.ts), as Tally sends and reads them.
// docs/qlik-compatibility.md says what each field means in Tally.

public sealed record QlikLink(string Href);

public sealed record QlikLinks(QlikLink? Next, QlikLink? Prev);

public sealed record QlikAllotment(string Name, string UsageClass, long Units, long UnitsUsed, long? Overage);

public sealed record QlikParameter(string Name, string Valid, IReadOnlyDictionary<string, object?> Values);

public sealed record QlikPeriod(string Id, DateTimeOffset Start, DateTimeOffset End);

public sealed record QlikOverview(
    IReadOnlyList<QlikAllotment> Allotments, string LicenseKey, string LicenseNumber, string Origin, IReadOnlyList<QlikParameter> Parameters,
    string Product, string SecondaryNumber, string Status, bool Trial, DateTimeOffset Updated, string Valid, string Version,
    DateTimeOffset ChangeTime, string CustomerId, DateTimeOffset LatestValidTime, QlikPeriod Period);

public sealed record QlikStatus(bool Deactivated, string ExtensionStatus, string Origin, string Product, string Status, bool Trial, string Type, string Valid);

public sealed record QlikSettings(bool? AutoAssignProfessional, bool? AutoAssignAnalyzer);

public sealed record QlikConsumptionRecord(
    string Id, string AppId, string UserId, string SessionId, DateTimeOffset EndTime, string Duration, long MinutesUsed, long CapacityUsed,
    string LicenseUsage, string AllotmentId);

public sealed record QlikConsumptionPage(IReadOnlyList<QlikConsumptionRecord> Data, QlikLinks Links);

public sealed record QlikAssignment(string Subject, string Type, DateTimeOffset Created, bool Excess);

public sealed record QlikAssignmentsPage(IReadOnlyList<QlikAssignment> Data, QlikLinks Links);

public sealed record QlikAssignmentItem(string? Subject, string? Type, string? Name, string? UserId, string? SourceSubject, string? SourceType);

public sealed record QlikAddRequest(IReadOnlyList<QlikAssignmentItem?>? Add);

public sealed record QlikUpdateRequest(IReadOnlyList<QlikAssignmentItem?>? Update);

public sealed record QlikDeleteRequest(IReadOnlyList<QlikAssignmentItem?>? Delete);

/// <summary>One item's outcome of an assignments action (the 207 body lists one per item, in order).</summary>
public sealed record QlikItemResult(int Status, string? Subject, string? Type, string? Code = null, string? Title = null, string? SourceSubject = null, string? SourceType = null);

public sealed record QlikItemResults(IReadOnlyList<QlikItemResult> Data);

/// <summary>One error; <c>status</c> is not in Qlik's published type, but Qlik sends it and its client prints it.</summary>
public sealed record QlikErrorItem(string Code, string Title, string? Detail, string Status);

/// <summary>Qlik's error body. <c>error</c> and <c>message</c> are deprecated in Qlik's types but still required.</summary>
public sealed record QlikErrorResponse(string Error, IReadOnlyList<QlikErrorItem> Errors, string Message);

/// <summary>
/// Error codes on the licenses routes. 011 and 016 are Qlik's own; the 9xx range is Tally's, so it cannot be
/// mistaken for a Qlik code that means something else.
/// </summary>
public static class QlikCodes
{
    public const string NoAvailableAllotment = "LICENSES-011";
    public const string AssignmentNotFound = "LICENSES-016";
    public const string Unauthorized = "LICENSES-901";
    public const string Forbidden = "LICENSES-902";
    public const string BadQuery = "LICENSES-903";
    public const string BadFilter = "LICENSES-904";
    public const string BadCursor = "LICENSES-905";
    public const string BadBody = "LICENSES-906";
    public const string NoLicense = "LICENSES-907";
    public const string BadAssignment = "LICENSES-908";
    public const string AssignmentExists = "LICENSES-909";
    public const string Unavailable = "LICENSES-910";
    public const string PlanDoesNotFit = "LICENSES-911";
    public const string ObservingTenant = "LICENSES-912";

    /// <summary>The code of a plain HTTP failure on these routes, when the handler named none.</summary>
    public static string ForStatus(int status) => status switch
    {
        401 => Unauthorized,
        403 => Forbidden,
        404 => NoLicense,
        413 => BadBody,
        503 => Unavailable,
        _ => BadQuery,
    };
}

/// <summary>Builds and rewrites error answers into Qlik's error body.</summary>
public static class QlikErrors
{
    private const string CodeKey = "qlikCode";

    /// <summary>A failure with a Qlik code; written as Qlik's error body by <see cref="Rewrite"/>.</summary>
    public static IResult Problem(int status, string code, string title, string detail) =>
        Problems.Status(status, title, detail, new Dictionary<string, object?> { [CodeKey] = code });

    public static IResult BadQuery(string detail) => Problem(400, QlikCodes.BadQuery, "Bad request, invalid query.", detail);

    /// <summary>
    /// Endpoint filter for the licenses routes: every problem+json answer (from the key check, the body reader or a
    /// handler) leaves as Qlik's error body, and a ledger outage as a 503 in that body, so Qlik's client parses them all.
    /// </summary>
    public static async ValueTask<object?> Rewrite(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        object? result;
        try
        {
            result = await next(context).ConfigureAwait(false);
        }
        catch (LedgerUnavailableException e)
        {
            return Body(503, QlikCodes.Unavailable, "Service unavailable", e.Message);
        }
        if (result is not ProblemHttpResult problem)
        {
            return result;
        }
        var details = problem.ProblemDetails;
        var status = details.Status ?? problem.StatusCode;
        var code = details.Extensions.TryGetValue(CodeKey, out var c) && c is string named ? named : QlikCodes.ForStatus(status);
        return Body(status, code, details.Title ?? "Error", details.Detail ?? details.Title ?? "");
    }

    private static IResult Body(int status, string code, string title, string detail) =>
        TypedResults.Json(new QlikErrorResponse(title, [new QlikErrorItem(code, title, detail, status.ToString(System.Globalization.CultureInfo.InvariantCulture))], detail), statusCode: status);
}

/// <summary>
/// Opaque page cursors: a small JSON document in base64url. It carries the position (keyset) and the query it belongs
/// to, so a page link is complete on its own and a cursor reused with another query is refused. It is not signed: it
/// only positions a read inside the caller's own tenant, whose key scopes every read.
/// </summary>
public static class PageCursor
{
    public const int MaxLength = 4096;

    public static string Encode<T>(T cursor) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(cursor, JsonBody.Options));

    public static bool TryDecode<T>(string text, out T? cursor) where T : class
    {
        cursor = null;
        if (text.Length is 0 or > MaxLength || !Base64Url.IsValid(text))
        {
            return false;
        }
        try
        {
            cursor = JsonSerializer.Deserialize<T>(Base64Url.DecodeFromChars(text), JsonBody.Options);
            return cursor is not null;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
