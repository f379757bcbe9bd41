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
        var (usage, allotment) = UnitClass(record);
        var units = new StoredUnit[count];
        for (var i = 0; i < count; i++)
        {
            var minutes = record.Minutes / count + (i == count - 1 ? record.Minutes % count : 0);
            units[i] = new StoredUnit(0, record.User, "", record.App, period, start + record.DurationTicks * i / count,
                start + record.DurationTicks * (i + 1) / count, (int)minutes, usage, allotment, record.Session);
        }
        var decision = new StoredDecision(DecisionKind, null, record.User, record.App, period, start, record.EndTicks, 0, (int)record.Minutes);
        return new LedgerEntry(null, record.EndTicks, null, record.User, record.Session, record.App, LedgerEntry.ObservedAction, [decision], units, period,
            new StoredObservation(source, record.RecordId, record.DurationTicks, record.Minutes, record.Units, record.LicenseUsage, record.Allotment));
    }

    /// <summary>
    /// The class of use and allotment of the record's units, in Tally's names, which the reports read (pool minutes are
    /// the units of class <c>time</c>; allotments become allocations). A record that drew capacity (units above 0) is
    /// capacity use whatever the source calls it, and so is one the source calls <c>time</c>: Qlik documents
    /// <c>capacityUsed</c> ("analyzer capacity chunks consumed") but not the values of <c>licenseUsage</c>, so the
    /// count decides, not the label. Any other record is a seat holder's, whose seat is the source's allotment or
    /// class when that names one of Tally's seats, else an Analyzer seat. The record itself is kept as reported.
    /// </summary>
    public static (string LicenseUsage, string Allotment) UnitClass(ObservedRecordRow record) =>
        record.Units > 0 || record.LicenseUsage == "time" ? ("time", "analyzer_time")
        : ("assigned", record.Allotment is "professional" or "analyzer" ? record.Allotment
            : record.LicenseUsage is "professional" or "analyzer" ? record.LicenseUsage : "analyzer");
}
