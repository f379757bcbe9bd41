namespace Tally.Metering.Tests;

/// <summary>The bulk steps of <see cref="Replay"/> on inputs large enough to take the parallel paths.</summary>
public class ReplayTests
{
    private static readonly long T0 = Scenario.Day.UtcTicks;

    [Fact]
    public void InTimeOrder_ShuffledWithManyTies_IsTheStableSort()
    {
        var random = new Random(3);
        var events = Enumerable.Range(0, 150_000)
            .Select(i => new MeterEvent(T0 + (random.Next(5_000) * TimeSpan.TicksPerSecond), 1 + (i % 50), 0, 1 + (i % 7), MeterAction.Select, $"e{i}"))
            .ToArray();
        var stable = events.OrderBy(e => e.TimeTicks).ToArray(); // LINQ's OrderBy keeps ties in input order

        Assert.Equal(stable, EventOrder.InTimeOrder(events));
    }

    [Fact]
    public void MarkDuplicates_InReplayOrder_MatchesASet()
    {
        var random = new Random(4);
        var events = Enumerable.Range(0, 150_000)
            .Select(_ => new MeterEvent(T0 + (random.Next(5_000) * TimeSpan.TicksPerSecond), 1, 0, 1, MeterAction.Select,
                random.Next(4) == 0 ? null : $"e{random.Next(120_000)}"))
            .ToArray();
        var ordered = EventOrder.InTimeOrder(events);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var expected = ordered.Select(e => e.Id is { } id && !seen.Add(id)).ToArray();

        Assert.Equal(expected, Replay.MarkDuplicates(ordered));
        Assert.Equal(expected, Replay.MarkDuplicates(events.Length, EventOrder.Permutation(events), new IdsOfEvents(events)));
    }

    [Fact]
    public void MarkDuplicates_IdsCrowdedIntoOnePartWithSharedHashes_MatchesASet()
    {
        var random = new Random(5);
        var ids = Enumerable.Range(0, 150_000).Select(_ => random.Next(4) == 0 ? -1 : random.Next(200_000)).ToArray();
        var seen = new HashSet<int>();
        var expected = ids.Select(id => id >= 0 && !seen.Add(id)).ToArray();

        Assert.Equal(expected, Replay.MarkDuplicates(ids.Length, null, new PoorlyHashedIds(ids)));
    }

    /// <summary>Even hashes shared by pairs of ids: every id lands in one part, whose set must grow, and equal hashes must still be told apart.</summary>
    private readonly struct PoorlyHashedIds(int[] ids) : IEventIds
    {
        public bool HasId(int index) => ids[index] >= 0;

        public int HashOf(int index) => ids[index] / 2 * 2;

        public bool SameId(int a, int b) => ids[a] == ids[b];
    }
}
