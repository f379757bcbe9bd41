namespace Tally.Storage;

/// <summary>
/// How an observed record (rule R13) is laid out in the ledger, so that every report reads it where it reads Tally's
/// own usage: one entry at the record's end time with the session as its device, one <c>observed</c> decision for the
/// period its end falls in (kept in the event row), and a unit row per unit the source drew, at least one (a seat
/// holder's record is a unit of 0 minutes, as Tally's own are). The units share the record's span and minutes in
/// order, the remainder on the last, so their sum is the record's.
/// </summary>
public static class ObservedEntries
{
    /// <summary>The decision kind of an observed record: what the source decided, not Tally's meter.</summary>
    public const string DecisionKind = "observed";

    /// <summary>The entry of <paramref name="record"/> from <paramref name="source"/>, filed under <paramref name="period"/> (its end's).</summary>
    public static LedgerEntry From(string source, ObservedRecordRow record, string period)
    {
        var count = (int)Math.Max(1, record.Units);
        var start = record.EndTicks - record.DurationTicks;
        var allotment = UnitAllotment(record);
        var units = new StoredUnit[count];
        for (var i = 0; i < count; i++)
        {
            var minutes = record.Minutes / count + (i == count - 1 ? record.Minutes % count : 0);
            units[i] = new StoredUnit(0, record.User, "", record.App, period, start + record.DurationTicks * i / count,
                start + record.DurationTicks * (i + 1) / count, (int)minutes, record.LicenseUsage, allotment, record.Session);
        }
        var decision = new StoredDecision(DecisionKind, null, record.User, record.App, period, start, record.EndTicks, 0, (int)record.Minutes);
        return new LedgerEntry(null, record.EndTicks, null, record.User, record.Session, record.App, LedgerEntry.ObservedAction, [decision], units, period,
            new StoredObservation(source, record.RecordId, record.DurationTicks, record.Minutes, record.Units, record.LicenseUsage, record.Allotment));
    }

    // Tally's allotment names, which the reports turn into allocations: capacity minutes are "analyzer_time"; a seat's
    // record keeps the source's name when it is one of Tally's, else it is an Analyzer seat's.
    private static string UnitAllotment(ObservedRecordRow record) =>
        record.LicenseUsage == "time" ? "analyzer_time" : record.Allotment is "professional" or "analyzer" ? record.Allotment : "analyzer";
}
