using Tally.Contract;

namespace Tally.Client.Tests;

/// <summary>The durable buffer on a real SQLite file: order, bounds and their policies, and what survives a reopen.</summary>
public sealed class LocalBufferTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-buffer-").FullName;

    private string PathOf(string name = "buffer.db") => Path.Combine(_dir, name);

    private static List<EventDto> Events(int from, int count) =>
        [.. Enumerable.Range(from, count).Select(i => new EventDto($"id{i}", $"u{i}", "pc", "sales", TallyActions.Select, T0.AddSeconds(i).ToString("O")))];

    [Fact]
    public void Keeps_events_in_order_with_their_ids_and_times_across_a_reopen()
    {
        using (var buffer = new LocalBuffer(PathOf()))
        {
            buffer.Append(Events(0, 3), 100, BufferFullPolicy.DropNewest, T0);
            buffer.Append(Events(3, 2), 100, BufferFullPolicy.DropNewest, T0);
        }
        using var reopened = new LocalBuffer(PathOf());
        Assert.Equal(5, reopened.Count);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf()));
        }
        var rows = reopened.Peek(10);
        Assert.Equal(Events(0, 5), rows.Select(r => r.Event).ToList());
        reopened.RemoveThrough(rows[1].Seq);
        Assert.Equal(["id2", "id3", "id4"], reopened.Peek(10).Select(r => r.Event.Id));
        Assert.Equal(3, reopened.Count);
        // Not the oldest run (the one left behind was refused elsewhere, say): exactly those rows go.
        reopened.Remove([rows[2].Seq, rows[4].Seq]);
        Assert.Equal(["id3"], reopened.Peek(10).Select(r => r.Event.Id));
        Assert.Equal(1, reopened.Count);
    }

    [Fact]
    public void When_full_drop_newest_keeps_the_first_events_and_records_the_drop()
    {
        using var buffer = new LocalBuffer(PathOf());
        Assert.Equal(0, buffer.Append(Events(0, 8), 10, BufferFullPolicy.DropNewest, T0));
        Assert.Equal(3, buffer.Append(Events(8, 5), 10, BufferFullPolicy.DropNewest, T0.AddMinutes(1)));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"id{i}"), buffer.Peek(20).Select(r => r.Event.Id));
        var report = buffer.PendingReport("c", "fail-closed", 0)!.Value.Report;
        Assert.Equal(3, report.DroppedEvents);
        Assert.Equal(T0.AddMinutes(1), report.From);
    }

    [Fact]
    public void When_full_drop_oldest_keeps_the_last_events()
    {
        using var buffer = new LocalBuffer(PathOf());
        buffer.Append(Events(0, 8), 10, BufferFullPolicy.DropOldest, T0);
        Assert.Equal(5, buffer.Append(Events(8, 7), 10, BufferFullPolicy.DropOldest, T0));
        Assert.Equal(Enumerable.Range(5, 10).Select(i => $"id{i}"), buffer.Peek(20).Select(r => r.Event.Id));
        Assert.Equal(10, buffer.Count);
        // A batch larger than the whole bound keeps its own last events only.
        Assert.Equal(25, buffer.Append(Events(100, 25), 10, BufferFullPolicy.DropOldest, T0));
        Assert.Equal(Enumerable.Range(115, 10).Select(i => $"id{i}"), buffer.Peek(20).Select(r => r.Event.Id));
        Assert.Equal(30, buffer.PendingReport("c", "fail-closed", 0)!.Value.Report.DroppedEvents);
    }

    [Fact]
    public void A_report_keeps_its_id_and_extent_until_it_is_delivered()
    {
        using var buffer = new LocalBuffer(PathOf());
        Assert.Null(buffer.PendingReport("c", "fail-open", 60));
        var grant = Events(0, 1)[0];
        buffer.AddGrant(grant, T0, 6);
        buffer.AddDenied(T0.AddMinutes(2));
        var first = buffer.PendingReport("edge-1", "fail-open", 60)!.Value;
        // Decided after the report was fixed: the next report's, not this one's.
        buffer.AddDenied(T0.AddMinutes(3));
        var again = buffer.PendingReport("edge-1", "fail-open", 60)!.Value;
        Assert.Equal(first.Report.Id, again.Report.Id);
        Assert.Equal(1, again.Report.DeniedChecks);
        Assert.Equal(new OfflineGrant("id0", "u0", "pc", "sales", TallyActions.Select, T0, 6), Assert.Single(again.Report.Grants!));
        Assert.Equal((T0, T0.AddMinutes(2)), (again.Report.From, again.Report.To));
        Assert.Equal(("edge-1", "fail-open", 60), (again.Report.Client, again.Report.Policy, again.Report.GraceBudgetMinutes));
        buffer.Reported(again.ThroughSeq);
        Assert.Empty(buffer.Grants());
        var next = buffer.PendingReport("edge-1", "fail-open", 60)!.Value.Report;
        Assert.NotEqual(first.Report.Id, next.Id);
        Assert.Equal(1, next.DeniedChecks);
        Assert.Empty(next.Grants!);
    }

    [Fact]
    public void A_long_outage_is_reported_in_reports_of_at_most_the_given_grants()
    {
        using var buffer = new LocalBuffer(PathOf());
        foreach (var e in Events(0, 5))
        {
            buffer.AddGrant(e, T0, 6);
        }
        buffer.AddDenied(T0);
        var sizes = new List<(int Grants, int Denied)>();
        while (buffer.PendingReport("c", "fail-open", 60, maxGrants: 2) is { } pending)
        {
            sizes.Add((pending.Report.Grants!.Count, pending.Report.DeniedChecks!.Value));
            buffer.Reported(pending.ThroughSeq);
        }
        Assert.Equal([(2, 0), (2, 0), (1, 1)], sizes);
        Assert.Equal(0, buffer.OfflineRecords);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
