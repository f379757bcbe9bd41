namespace Tally.Storage.Tests;

/// <summary>How an observed record's units are classed (rule R13): by what the record drew, not by the source's label.</summary>
public sealed class ObservedEntriesTests
{
    private static ObservedRecordRow Record(long units, string licenseUsage, string? allotment) =>
        new("r1", "ann", "sales", "s-1", 60 * TimeSpan.TicksPerMinute, 12 * TimeSpan.TicksPerMinute, units * 6, units, licenseUsage, allotment);

    [Theory]
    [InlineData(2, "time", "analyzer_time", "time", "analyzer_time")]
    [InlineData(2, "analyzer_time", null, "time", "analyzer_time")]          // a label Tally does not know, but capacity was drawn
    [InlineData(1, "assigned", "analyzer", "time", "analyzer_time")]         // drew a chunk: capacity, whatever it says
    [InlineData(0, "time", null, "time", "analyzer_time")]                   // the source says time: pool use of 0 minutes
    [InlineData(0, "assigned", "professional", "assigned", "professional")]
    [InlineData(0, "professional", null, "assigned", "professional")]
    [InlineData(0, "assigned", "some-allotment-id", "assigned", "analyzer")]
    public void UnitClass_CapacityDrawnIsPoolUse_ElseTheSeatItNames(long units, string licenseUsage, string? allotment, string expectedUsage, string expectedAllotment)
    {
        var record = Record(units, licenseUsage, allotment);

        Assert.Equal((expectedUsage, expectedAllotment), ObservedEntries.UnitClass(record));
        var entry = ObservedEntries.From("cloud", record, "2026-03");
        Assert.All(entry.Units, u => Assert.Equal((expectedUsage, expectedAllotment), (u.LicenseUsage, u.Allotment)));
        // The record is kept as the source reported it.
        Assert.Equal((licenseUsage, allotment), (entry.Observed!.LicenseUsage, entry.Observed.Allotment));
        Assert.Equal(record.Minutes, entry.Units.Sum(u => (long)u.Minutes));
    }
}
