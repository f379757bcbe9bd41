namespace Tally.Contract;

/// <summary>An event as clients send it (<c>POST /api/v1/events</c>, <c>/access</c>); every field is a string, unknown fields are ignored.</summary>
public sealed record EventDto(string? Id, string? User, string? Device, string? App, string? Action, string? Time);

/// <summary>One key's decision inside a scheduled reload's result (R5).</summary>
public sealed record KeyResult(string User, string Decision, string? Reason, DateTimeOffset? UnitEnd, DateTimeOffset? RetryAfter, int Minutes);

/// <summary>
/// The decision on one event. <c>Decision</c> is charged, covered, free, duplicate or denied; <c>Reason</c> only when
/// denied; <c>Decisions</c> only for a scheduled reload, one per key it touched.
/// </summary>
public sealed record EventResult(string? Id, string Decision, string? Reason, DateTimeOffset? UnitStart, DateTimeOffset? UnitEnd, DateTimeOffset? RetryAfter,
    int Minutes, DateTimeOffset Time, IReadOnlyList<KeyResult>? Decisions);

/// <summary>The answer to <c>POST /api/v1/access</c>: allowed or not, with the same fields as an event result.</summary>
public sealed record AccessResult(bool Allowed, string? Id, string Decision, string? Reason, DateTimeOffset? UnitStart, DateTimeOffset? UnitEnd,
    DateTimeOffset? RetryAfter, int Minutes, DateTimeOffset Time, IReadOnlyList<KeyResult>? Decisions)
{
    public static AccessResult From(EventResult r) =>
        new(r.Decision != "denied", r.Id, r.Decision, r.Reason, r.UnitStart, r.UnitEnd, r.RetryAfter, r.Minutes, r.Time, r.Decisions);
}
