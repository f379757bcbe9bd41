using CsCheck;

namespace Tally.Metering.Tests;

/// <summary>
/// R10 with ids kept as 64-bit hashes (issue 14): a hash match is only a suspicion, settled by an exact record (the
/// server's ledger and batch) before an event is called a duplicate. Hashes are forced to collide here by a tiny hash.
/// </summary>
public class IdHashTests
{
    private static readonly long T0 = Scenario.Day.UtcTicks;

    /// <summary>Four hash values for every id: nearly every pair of ids collides.</summary>
    private static ulong TinyHash(string id) => (ulong)(id.Length + id[^1]) % 4;

    private static MeterEvent Open(double minutes, int user, string id) =>
        new(T0 + (long)(minutes * TimeSpan.TicksPerMinute), user, 1, 1, MeterAction.OpenApp, id);

    [Fact]
    public void IdHashSet_CollidingHashes_EachKeptAndForgottenOnItsOwn()
    {
        var set = new IdHashSet();
        Assert.False(set.AddIfAbsent(7));
        Assert.True(set.AddIfAbsent(7));
        set.Add(7);
        set.Add(0); // kept as 1: empty slots are 0
        Assert.Equal(3, set.Count);
        Assert.True(set.Remove(7));
        Assert.True(set.Contains(7));
        Assert.True(set.Remove(7));
        Assert.False(set.Contains(7));
        Assert.False(set.Remove(7));
        Assert.True(set.Contains(1));
    }

    [Fact]
    public void IdHashSet_AnyAddsAndRemoves_MatchAMultiset()
    {
        // Small values crowd a few runs (and wrap around the table's end); large ones spread: both kinds of probing.
        var ops = Gen.Select(Gen.Bool, Gen.Bool, Gen.ULong[0, 40], Gen.ULong).Array[0, 400];
        ops.Sample(list =>
        {
            var set = new IdHashSet();
            var reference = new Dictionary<ulong, int>();
            foreach (var (add, small, little, big) in list)
            {
                var hash = small ? little : big;
                var stored = hash == 0 ? 1 : hash;
                if (add)
                {
                    set.Add(hash);
                    reference[stored] = reference.GetValueOrDefault(stored) + 1;
                }
                else
                {
                    Assert.Equal(reference.GetValueOrDefault(stored) > 0, set.Remove(hash));
                    if (reference.GetValueOrDefault(stored) > 0)
                    {
                        reference[stored]--;
                    }
                }
                Assert.Equal(reference.Values.Sum(), set.Count);
            }
            Assert.All(reference, pair => Assert.Equal(pair.Value > 0, set.Contains(pair.Key)));
        });
    }

    [Fact]
    public void IdHashSet_Grown_AtMostSixteenBytesPerId()
    {
        var set = new IdHashSet();
        for (var i = 1UL; i <= 100_000; i++)
        {
            set.AddIfAbsent(i * 0x9E3779B97F4A7C15);
            if (i > 16)
            {
                Assert.True(set.Bytes <= 16 * (long)set.Count, $"{set.Bytes} B for {set.Count} ids");
            }
        }
    }

    [Fact]
    public void ApplyNew_IdWhoseHashCollides_IsAppliedNotADuplicate()
    {
        var meter = new Meter(new MeterOptions()) { IdHash = _ => 42 };
        Assert.Equal(DecisionKind.Charged, meter.Apply(Open(0, 1, "a"))[0].Kind);
        // "b" is no "a": the hash says maybe, the caller's record says new, and new it is.
        Assert.True(meter.MayHaveAccepted("b"));
        var sink = new Sink();
        meter.ApplyNew(Open(1, 2, "b"), sink);
        Assert.Equal(DecisionKind.Charged, sink.Decisions.Single().Kind);
        Assert.Equal(2, meter.RememberedIds);
    }

    [Fact]
    public void IdsToConfirm_OnlyHashMatches_ThenEveryIdOnceSomeAreForgotten()
    {
        var meter = new Meter(new MeterOptions()) { IdHash = id => id == "x" || id == "y" ? 1UL : 2UL, IdMemory = TimeSpan.FromMinutes(10) };
        meter.Apply(Open(0, 1, "x"));
        // "y" collides with "x"; "z" matches nothing, so it certainly was never accepted.
        Assert.Equal(["x", "y"], meter.IdsToConfirm(["x", "y", "z", null]).Order(StringComparer.Ordinal));
        meter.ForgetIds(T0 + TimeSpan.FromMinutes(11).Ticks);
        Assert.Equal(1, meter.ForgottenIds);
        Assert.Equal(["x", "y", "z"], meter.IdsToConfirm(["x", "y", "z", null]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void DuplicatesIn_TheRecordOrAnEarlierEventOfTheBatch()
    {
        Assert.Equal([true, false, true, false, false], Meter.DuplicatesIn(["old", "new", "new", null, null], new HashSet<string> { "old" }));
    }

    [Fact]
    public void SettledByTheRecord_CollisionsDenyNothing_RealDuplicatesCaught_InABatch_AcrossBatches_AfterTheWindow_AfterARestart()
    {
        var server = new RecordedMeter(TimeSpan.FromMinutes(10));
        Assert.Equal([DecisionKind.Charged, DecisionKind.Charged, DecisionKind.Duplicate],
            server.Batch(Open(0, 1, "a"), Open(0, 2, "b"), Open(0, 2, "b"))); // "a" and "b" collide; "b" resent within the batch
        Assert.Equal([DecisionKind.Duplicate, DecisionKind.Charged], server.Batch(Open(1, 1, "a"), Open(1, 3, "c")));
        Assert.Equal([DecisionKind.Duplicate, DecisionKind.Charged], server.Batch(Open(30, 2, "b"), Open(30, 4, "d"))); // "b" forgotten
        Assert.True(server.Meter.ForgottenIds > 0);
        server.Restart();
        Assert.Equal([DecisionKind.Duplicate, DecisionKind.Duplicate, DecisionKind.Charged],
            server.Batch(Open(31, 1, "a"), Open(31, 4, "d"), Open(31, 5, "e")));
    }

    /// <summary>
    /// Any events, split into any batches, under a tiny hash, with or without a window and a restart: the decisions are
    /// those of an exact replay (<see cref="Replay"/> marks duplicates with the ids themselves).
    /// </summary>
    [Fact]
    public void SettledByTheRecord_AnyBatchesUnderATinyHash_DecideAsTheExactReplay()
    {
        var events = Gen.Select(Gen.Int[0, 300], Gen.Int[1, 4], Gen.Int[0, 12], Gen.Int[1, 4]).Array[1, 80]
            .Select(raw =>
            {
                var t = T0;
                return raw.Select(r => new MeterEvent(t += r.Item1 * TimeSpan.TicksPerSecond, r.Item2, 1, r.Item4, MeterAction.OpenApp, $"id{r.Item3}")).ToArray();
            });
        Gen.Select(events, Gen.Int[1, 9], Gen.Bool, Gen.Int[-1, 80]).Sample((all, batchSize, windowed, restartAt) =>
        {
            var exact = new List<Decision>();
            var sink = new Sink();
            Replay.Run(all, new Meter(new MeterOptions()), sink);
            exact.AddRange(sink.Decisions);

            var server = new RecordedMeter(windowed ? TimeSpan.FromMinutes(3) : null);
            var decided = new List<DecisionKind>();
            for (var start = 0; start < all.Length; start += batchSize)
            {
                if (start / batchSize == restartAt)
                {
                    server.Restart();
                }
                decided.AddRange(server.Batch([.. all.Skip(start).Take(batchSize)]));
            }
            Assert.Equal(exact.Select(d => d.Kind), decided);
        });
    }

    /// <summary>
    /// The server's protocol in miniature, with a tiny hash: a ledger of accepted events (exact ids), a batch settled
    /// before it is applied, and a restart that replays the ledger into a new meter.
    /// </summary>
    private sealed class RecordedMeter(TimeSpan? window)
    {
        private readonly List<MeterEvent> _ledger = [];

        public Meter Meter { get; private set; } = New(window);

        private static Meter New(TimeSpan? window) => new(new MeterOptions()) { IdHash = TinyHash, IdMemory = window };

        public List<DecisionKind> Batch(params MeterEvent[] batch)
        {
            Meter.ForgetIds(batch.Max(e => e.TimeTicks));
            var ids = batch.Select(e => e.Id).ToList();
            var confirm = Meter.IdsToConfirm(ids);
            var known = _ledger.Select(e => e.Id!).Where(confirm.Contains).ToHashSet(StringComparer.Ordinal);
            var duplicates = Meter.DuplicatesIn(ids, known);
            var sink = new Sink();
            for (var i = 0; i < batch.Length; i++)
            {
                if (duplicates[i])
                {
                    Meter.ApplyDuplicate(batch[i], sink);
                }
                else
                {
                    Meter.ApplyNew(batch[i], sink);
                    _ledger.Add(batch[i]);
                }
            }
            return [.. sink.Decisions.Select(d => d.Kind)];
        }

        public void Restart()
        {
            Meter = New(window);
            foreach (var e in _ledger)
            {
                Meter.ApplyNew(e, new Sink());
            }
        }
    }

    private sealed class Sink : IDecisionSink
    {
        public List<Decision> Decisions { get; } = [];

        public void Add(in MeterEvent e, in Decision decision) => Decisions.Add(decision);
    }
}
