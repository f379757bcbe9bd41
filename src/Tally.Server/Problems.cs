using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Tally.Metering;

namespace Tally.Server;

/// <summary>problem+json answers, one shape for every client error.</summary>
public static class Problems
{
    public static ProblemHttpResult Status(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: extensions);

    public static ProblemHttpResult BadRequest(string detail, IDictionary<string, object?>? extensions = null) =>
        Status(StatusCodes.Status400BadRequest, "Bad request", detail, extensions);

    public static ProblemHttpResult NotFound(string detail) => Status(StatusCodes.Status404NotFound, "Not found", detail);

    /// <summary>A rejected event: names its position and field (R12).</summary>
    public static ProblemHttpResult BadEvent(int index, string field, string reason) =>
        BadRequest($"events[{index}].{field}: {reason}", new Dictionary<string, object?> { ["index"] = index, ["field"] = field, ["reason"] = reason });

    /// <summary>
    /// A 400 naming <paramref name="field"/> and the position when <paramref name="value"/> breaks the text rule for
    /// names and ids (<see cref="EventValidation.CheckText"/>: no control characters, no unpaired surrogates); null when
    /// it keeps it or is absent.
    /// </summary>
    public static ProblemHttpResult? BadText(string field, string? value) =>
        value is not null && EventValidation.CheckText(value) is { } reason
            ? BadRequest($"{field}: {reason}.", new Dictionary<string, object?> { ["field"] = field, ["reason"] = reason })
            : null;
}
