namespace Tally.Import.Qrs;

// The parts of the QRS license entities Tally reads (Qlik's QRS API reference, /qrs/license/...). Everything else in
// the answers is ignored, so a newer QSEoW that adds properties reads the same.

/// <summary>A user as the QRS condenses it inside another entity.</summary>
internal sealed record QrsUser(string? UserDirectory, string? UserId);

/// <summary>One session a time-access usage covered.</summary>
internal sealed record QrsUsageSession(string? SessionID);

/// <summary>The allotment a usage drew from (the analyzer time access type, by name).</summary>
internal sealed record QrsAccessTypeName(string? Name);

/// <summary>One analyzer-capacity use (<c>LicenseAnalyzerTimeAccessUsage</c>): no stop time while the session runs.</summary>
internal sealed record QrsAnalyzerTimeUsage(
    Guid Id, DateTimeOffset? ModifiedDate, DateTimeOffset? CreatedDate, DateTimeOffset? UseStartTime, DateTimeOffset? UseStopTime,
    DateTimeOffset? LatestActivity, QrsUser? User, IReadOnlyList<QrsUsageSession>? Sessions, QrsAccessTypeName? AnalyzerTimeAccessType);

/// <summary>The analyzer-capacity pool (<c>LicenseAnalyzerTimeAccessType</c>).</summary>
internal sealed record QrsAnalyzerTimeAccessType(string? Name, long? AssignedMinutes, long? UsedMinutes, long? RemainingMinutes);

/// <summary>A professional or analyzer allocation (<c>LicenseProfessionalAccessType</c>, <c>LicenseAnalyzerAccessType</c>).</summary>
internal sealed record QrsUserAccessType(
    QrsUser? User, DateTimeOffset? CreatedDate, bool? Quarantined, string? DeletedUserDirectory, string? DeletedUserId);
