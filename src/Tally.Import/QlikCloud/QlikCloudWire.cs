namespace Tally.Import.QlikCloud;

// Qlik Cloud's licenses API as this source reads it: only the fields it maps, every one nullable, so a field the
// tenant leaves out is reported by name (QlikCloudSource) instead of becoming a silent zero.

internal sealed record QlikPageLink(string? Href);

internal sealed record QlikPageLinks(QlikPageLink? Next);

internal sealed record QlikConsumptionRecordWire(
    string? Id, string? AppId, string? UserId, string? SessionId, DateTimeOffset? EndTime, string? Duration, long? MinutesUsed, long? CapacityUsed,
    string? LicenseUsage, string? AllotmentId);

internal sealed record QlikConsumptionPageWire(IReadOnlyList<QlikConsumptionRecordWire?>? Data, QlikPageLinks? Links);

internal sealed record QlikAllotmentWire(string? Name, string? UsageClass, long? Units, long? UnitsUsed, long? Overage);

internal sealed record QlikOverviewWire(IReadOnlyList<QlikAllotmentWire?>? Allotments, string? LicenseNumber, string? Valid, DateTimeOffset? LatestValidTime);

internal sealed record QlikAssignmentWire(string? Subject, string? Type, DateTimeOffset? Created);

internal sealed record QlikAssignmentsPageWire(IReadOnlyList<QlikAssignmentWire?>? Data, QlikPageLinks? Links);
