using CsCheck;

namespace Tally.Metering.Tests;

/// <summary>
/// Ids kept for a window in bounded memory (issue 14): generations of ids tagged in one table, each forgotten whole once
/// all its ids are past the window. Times are explicit ticks; the window and its generations are small.
/// </summary>
public class AcceptedIdsTests
{
    private static readonly long T0 = Scenario.Day.UtcTicks;

    /// <summary>Distinct in the 56 bits a tagged set keeps (an odd multiplier is a bijection on them), spread over the table.</summary>
    private static ulong DistinctHash(int i) => (ulong)(i + 1) * 0x9E3779B97F4A7C15;

    [Fact]
    public void IdHashSet_Tagged_AnyAddsAndTagRemovals_MatchAMultiset()
    {
        // Small values crowd a few runs (and wrap around the table's end); large ones spread. Removing a tag must take
        // exactly its entries and leave every other one reachable.
        var ops = Gen.Select(Gen.Int[0, 5], Gen.Bool, Gen.ULong[0, 40], Gen.ULong, Gen.Int[0, 3]).Array[0, 400]; // tag 0 too: it goes slot by slot
        ops.Sample(list =>
        {
            var set = new IdHashSet(tagged: true);
            var reference = new List<(ulong Key, byte Tag)>();
            foreach (var (op, small, little, big, tag) in list)
            {
                if (op == 0)
                {
                    var removed = reference.RemoveAll(entry => entry.Tag == tag);
                    Assert.Equal(removed, set.RemoveTag((byte)tag));
                }
                else
                {
                    var hash = small ? little : big;
                    set.Add(hash, (byte)tag);
                    reference.Add((Key(hash), (byte)tag));
                }
                Assert.Equal(reference.Count, set.Count);
            }
            foreach (var hash in reference.Select(entry => entry.Key).Concat(Enumerable.Range(0, 41).Select(i => (ulong)i)))
            {
                Assert.Equal(reference.Any(entry => entry.Key == Key(hash)), set.Contains(hash));
            }
        });

        // The 56 bits a tagged set keeps, with 0 kept as 1 as an empty slot is 0.
        static ulong Key(ulong hash) => (hash & (ulong.MaxValue >> 8)) is 0 ? 1 : hash & (ulong.MaxValue >> 8);
    }

    [Fact]
    public void IdHashSet_Untagged_RemoveTag_Refused()
    {
        Assert.Throws<InvalidOperationException>(() => new IdHashSet().RemoveTag(0));
    }

    /// <summary>
    /// Any run of ids accepted at non-decreasing times, with forgetting at any instants (the server forgets up to a
    /// batch's latest instant before applying it, the meter up to each event): after forgetting up to instants whose
    /// latest is f, every id accepted at or after f − window is remembered, across any number of generation boundaries,
    /// and forgetting up to g forgets every id accepted a generation's span or more before g − window.
    /// </summary>
    [Fact]
    public void Window_NeverForgetsAnIdInsideIt_ForgetsItWithinOneGenerationAfter()
    {
        var steps = Gen.Select(Gen.Int[0, 3], Gen.Long[0, 400]).Array[1, 300];
        Gen.Select(Gen.Long[16, 3_000], steps).Sample((window, list) =>
        {
            var ids = new AcceptedIds(TimeSpan.FromTicks(window));
            var span = Math.Max(1, window / AcceptedIds.GenerationsPerWindow);
            var accepted = new List<long>(); // the time of id i
            var now = T0;
            var cutoff = long.MinValue;
            foreach (var (kind, delta) in list)
            {
                if (kind == 0)
                {
                    // Forget up to an instant that may be ahead of the latest id (a batch's latest instant).
                    var forgetAt = now + (delta / 4) - window;
                    ids.ForgetBefore(forgetAt);
                    cutoff = Math.Max(cutoff, forgetAt);
                    for (var i = 0; i < accepted.Count; i++)
                    {
                        if (accepted[i] >= cutoff)
                        {
                            Assert.True(ids.Contains(DistinctHash(i)), $"id at {accepted[i] - T0} forgotten by cutoff {cutoff - T0}");
                        }
                        else if (accepted[i] + span <= forgetAt)
                        {
                            Assert.False(ids.Contains(DistinctHash(i)), $"id at {accepted[i] - T0} kept past cutoff {forgetAt - T0} + span {span}");
                        }
                    }
                }
                else
                {
                    now += delta / kind; // some ids at one instant, some apart
                    Assert.False(ids.AddIfAbsent(DistinctHash(accepted.Count), now));
                    Assert.True(ids.AddIfAbsent(DistinctHash(accepted.Count), now));
                    accepted.Add(now);
                }
                Assert.Equal(accepted.Count, ids.Count + ids.Forgotten);
            }
        });
    }

    /// <summary>
    /// The meter itself, with explicit event times and ids that recur: an id accepted inside the window is always a
    /// duplicate, and in between either answer keeps R10's promise, since the id was accepted. One accepted a
    /// generation's span or more before the window the meter last forgot up to is never a duplicate (the meter looks an
    /// id up before it forgets up to that id's event, as it did before generations; the server asks its ledger about
    /// every id once any is forgotten).
    /// </summary>
    [Fact]
    public void Meter_IdMemory_InsideTheWindowADuplicate_ForgottenAGenerationPastIt()
    {
        var window = TimeSpan.FromMinutes(32);
        var span = window.Ticks / AcceptedIds.GenerationsPerWindow; // 2 minutes
        var events = Gen.Select(Gen.Int[0, 90], Gen.Int[0, 20]).Array[1, 200];
        events.Sample(list =>
        {
            var meter = new Meter(new MeterOptions()) { IdMemory = window };
            var acceptedAt = new Dictionary<string, long>();
            var t = T0;
            var forgottenBefore = long.MinValue;
            foreach (var (seconds, idNumber) in list)
            {
                t += seconds * TimeSpan.TicksPerSecond;
                var id = $"id-{idNumber}";
                var duplicate = meter.Apply(new MeterEvent(t, 1, 1, 1, MeterAction.Heartbeat, id))[0].Kind == DecisionKind.Duplicate;
                if (acceptedAt.TryGetValue(id, out var at) && at >= t - window.Ticks)
                {
                    Assert.True(duplicate, $"{id} accepted {TimeSpan.FromTicks(t - at)} before, inside the window");
                }
                else if (!acceptedAt.ContainsKey(id) || at + span <= forgottenBefore)
                {
                    Assert.False(duplicate, $"{id} never accepted or long forgotten");
                }
                if (!duplicate)
                {
                    acceptedAt[id] = t;
                    forgottenBefore = t - window.Ticks; // an accepted event forgets up to its own instant
                }
            }
        });
    }

    [Fact]
    public void Window_SteadyTraffic_AtMostSixteenBytesPerIdInsideIt()
    {
        // Ten windows of one id a tick: every instant after the first window, the table's bytes over the ids inside
        // the window (those of the last `window` ticks, both ends included).
        const long window = 16_000;
        var ids = new AcceptedIds(TimeSpan.FromTicks(window));
        for (var i = 0; i < 10 * window; i++)
        {
            ids.Add(DistinctHash(i), T0 + i);
            ids.ForgetBefore(T0 + i - window);
            if (i > window)
            {
                Assert.True(ids.Bytes <= 16 * (window + 1), $"{ids.Bytes} B for {window + 1} ids inside the window at {i}");
            }
        }
    }

    [Fact]
    public void NoWindow_ForgetsNothing()
    {
        var ids = new AcceptedIds(null);
        ids.Add(DistinctHash(0), T0);
        Assert.Equal(0, ids.ForgetBefore(long.MaxValue));
        Assert.True(ids.Contains(DistinctHash(0)));
    }
}
