namespace Tally.Import;

/// <summary>
/// One consumption record as the source's own license service decided it (rule R13): kept as reported, never
/// re-decided by Tally's meter. <paramref name="RecordId"/> is unique within its source. It counts in the period that
/// contains <paramref name="EndTime"/> on the tenant's calendar. <paramref name="Minutes"/> are the minutes the source
/// charged and <paramref name="Units"/> the six-minute units it drew from the pool (0 for a seat holder's record).
/// <paramref name="LicenseUsage"/> is the source's class of use (<c>time</c> for capacity minutes, <c>assigned</c> for
/// a seat), <paramref name="Allotment"/> the source's name for the allotment, if any.
/// </summary>
public sealed record ObservedRecord(
    string RecordId, string User, string App, string Session, DateTimeOffset EndTime, TimeSpan Duration, long Minutes, long Units,
    string LicenseUsage, string? Allotment);

/// <summary>
/// What the source's license says now (rule R13: the pool comes from the source when it has one). Null fields are
/// what the source does not tell. <paramref name="OverageMinutes"/>: -1 for unlimited overage.
/// </summary>
public sealed record ObservedLicense(
    long? IncludedMinutes, long? UsedMinutes, long? OverageMinutes, int? ProfessionalSeats, int? AnalyzerSeats,
    DateTimeOffset? ValidFrom, DateTimeOffset? ValidTo, string? LicenseNumber);

/// <summary>A seat the source has assigned: <paramref name="Type"/> is <c>professional</c> or <c>analyzer</c>.</summary>
public sealed record ObservedSeat(string User, string Type, DateTimeOffset? Since);
