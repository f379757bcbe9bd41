using Microsoft.AspNetCore.Http;

namespace Tally.Server;

/// <summary>problem+json answers, one shape for every client error.</summary>
public static class Problems
{
    public static IResult Status(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: extensions);

    public static IResult BadRequest(string detail, IDictionary<string, object?>? extensions = null) =>
        Status(StatusCodes.Status400BadRequest, "Bad request", detail, extensions);

    public static IResult NotFound(string detail) => Status(StatusCodes.Status404NotFound, "Not found", detail);

    /// <summary>A rejected event: names its position and field (R12).</summary>
    public static IResult BadEvent(int index, string field, string reason) =>
        BadRequest($"events[{index}].{field}: {reason}", new Dictionary<string, object?> { ["index"] = index, ["field"] = field, ["reason"] = reason });
}
