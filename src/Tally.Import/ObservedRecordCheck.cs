namespace Tally.Import;

/// <summary>What a record must be before it enters the ledger: whatever the source sends, a bad record is named, never stored.</summary>
public static class ObservedRecordCheck
{
    /// <summary>The longest id, user, app or session taken in, as for Tally's own events.</summary>
    public const int MaxText = 512;

    /// <summary>The most minutes one record may charge: a year of one session, far above any real one, and within what the ledger's rows hold.</summary>
    public const long MaxMinutes = 366 * 24 * 60;

    /// <summary>Why <paramref name="record"/> cannot be recorded, or null.</summary>
    public static string? Problem(ObservedRecord record) =>
        Text("id", record.RecordId, required: true) ?? Text("user", record.User, required: true) ?? Text("app", record.App, required: false)
        ?? Text("session", record.Session, required: false) ?? Text("licenseUsage", record.LicenseUsage, required: true)
        ?? (record.Allotment is { } allotment ? Text("allotment", allotment, required: false) : null)
        ?? (record.Minutes < 0 ? $"minutes {record.Minutes} is negative"
            : record.Minutes > MaxMinutes ? $"minutes {record.Minutes} is more than a record can charge"
            : record.Units < 0 ? $"units {record.Units} is negative"
            : record.Units > 10_000 ? $"units {record.Units} is more than a record can draw"
            : record.Duration < TimeSpan.Zero ? $"duration {record.Duration} is negative"
            : record.EndTime.Year is < 2000 or > 9000 ? $"end time {record.EndTime:O} is out of range"
            : null);

    private static string? Text(string field, string? value, bool required) =>
        value is null || (required && value.Length == 0) ? $"{field} is missing"
        : value.Length > MaxText ? $"{field} is longer than {MaxText} characters"
        : value.Any(char.IsControl) ? $"{field} holds a control character"
        : null;
}
