using CsCheck;

namespace Tally.Metering.Tests;

/// <summary>The laws of the rule book, checked on random event sets (CsCheck shrinks any counterexample).</summary>
public class LawTests
{
    private static readonly long T0 = Scenario.Day.UtcTicks;

    private static readonly MeterAction[] ActionMix =
    [
        MeterAction.OpenApp, MeterAction.Select, MeterAction.Navigate, MeterAction.Select, MeterAction.Reload,
        MeterAction.ScheduledReload, MeterAction.Heartbeat, MeterAction.CloseApp, MeterAction.Logout, MeterAction.EditSheet,
    ];

    /// <summary>Events with strictly increasing times (so no ties), small universes so keys collide often.</summary>
    private static readonly Gen<MeterEvent[]> Events =
        Gen.Select(Gen.Int[1, 420], Gen.Int[1, 4], Gen.Int[0, 2], Gen.Int[1, 3], Gen.Int[0, ActionMix.Length - 1])
            .Array[1, 120]
            .Select(raw =>
            {
                var t = T0;
                return raw.Select((r, i) =>
                {
                    t += r.Item1 * TimeSpan.TicksPerSecond;
                    var action = ActionMix[r.Item5];
                    return new MeterEvent(t, action == MeterAction.ScheduledReload ? 0 : r.Item2, r.Item3,
                        action == MeterAction.Logout || action == MeterAction.Heartbeat ? 0 : r.Item4, action, $"e{i}");
                }).ToArray();
            });

    private static readonly Gen<MeterOptions> Options =
        Gen.Select(Gen.Bool, Gen.Int[0, 8], Gen.Int[0, 3], Gen.Int[0, 3])
            .Select(o => new MeterOptions
            {
                Mode = o.Item1 ? CountingMode.App : CountingMode.Device,
                Pool = o.Item2 == 0 ? null : new PoolTerms(o.Item2 * 6 + o.Item3, o.Item4 switch
                {
                    0 => OverageAllowance.None,
                    1 => OverageAllowance.Capped(6),
                    2 => OverageAllowance.Capped(10),
                    _ => OverageAllowance.Unlimited,
                }),
            });

    private static List<(MeterEvent Event, Decision Decision)> Run(MeterOptions options, IReadOnlyList<MeterEvent> events)
    {
        var meter = new Meter(options);
        var result = new List<(MeterEvent, Decision)>();
        foreach (var e in EventOrder.InTimeOrder(events))
        {
            foreach (var d in meter.Apply(e))
            {
                result.Add((e, d));
            }
        }
        return result;
    }

    private static List<(MeterKey, long, long, int)> Units(IEnumerable<(MeterEvent Event, Decision Decision)> decisions) =>
        [.. decisions.Where(x => x.Decision.Kind == DecisionKind.Charged)
            .Select(x => (x.Decision.Key, x.Decision.UnitStartTicks, x.Decision.UnitEndTicks, x.Decision.Minutes))];

    [Fact]
    public void AnyArrivalOrder_GivesTheSameUnits()
    {
        Gen.Select(Events, Options, Gen.Int).Sample((events, options, seed) =>
        {
            var shuffled = events.ToArray();
            new Random(seed).Shuffle(shuffled);
            Assert.Equal(Units(Run(options, events)), Units(Run(options, shuffled)));
        });
    }

    [Fact]
    public void Duplicates_ChangeNothing()
    {
        Gen.Select(Events, Options, Gen.Int).Sample((events, options, seed) =>
        {
            var random = new Random(seed);
            var withDuplicates = events.Concat(events.Where(_ => random.Next(3) == 0)).ToArray();
            random.Shuffle(withDuplicates);
            var original = Run(options, events);
            var duplicated = Run(options, withDuplicates);
            Assert.Equal(Units(original), Units(duplicated));
            Assert.Equal(withDuplicates.Length - events.Length, duplicated.Count(d => d.Decision.Kind == DecisionKind.Duplicate));
        });
    }

    [Fact]
    public void Replay_WithBulkDuplicateMarking_EqualsApplyingOneByOne()
    {
        Gen.Select(Events, Options, Gen.Int).Sample((events, options, seed) =>
        {
            var random = new Random(seed);
            // Duplicates at other times too: the first in replay order wins, whatever came first in the input.
            var input = events.Concat(events.Where(_ => random.Next(3) == 0).Select(e => e with { TimeTicks = e.TimeTicks + random.Next(-3, 4) * TimeSpan.TicksPerMinute })).ToArray();
            random.Shuffle(input);
            var oneByOne = Run(options, input).Select(d => d.Decision).ToList();
            var sink = new Collect();
            Replay.Run(input, new Meter(options), sink);
            Assert.Equal(oneByOne, sink.Decisions);
        });
    }

    private sealed class Collect : IDecisionSink
    {
        public List<Decision> Decisions { get; } = [];

        public void Add(in MeterEvent e, in Decision decision) => Decisions.Add(decision);
    }

    [Fact]
    public void Consumed_NeverExceedsLimit()
    {
        Gen.Select(Events, Options).Sample((events, options) =>
        {
            var meter = new Meter(options);
            foreach (var e in events)
            {
                meter.Apply(e);
            }
            foreach (var pool in meter.Pools())
            {
                Assert.True(pool.ConsumedMinutes <= (pool.LimitMinutes ?? long.MaxValue));
                Assert.Equal(pool.Units * options.UnitMinutes, pool.ConsumedMinutes);
            }
        });
    }

    [Fact]
    public void ContinuousActivity_CostsCeilingOfDurationOverUnit()
    {
        Gen.Select(Gen.Int[1, 180], Gen.Int[1, 15], Gen.Int[0, 8].Select(i => new[] { 1, 2, 3, 5, 10, 15, 20, 30, 60 }[i]), Gen.Bool)
            .Sample((minutes, unit, stepSeconds, appMode) =>
            {
                var meter = new Meter(new MeterOptions { UnitMinutes = unit, Mode = appMode ? CountingMode.App : CountingMode.Device });
                var charged = 0;
                for (long s = 0; s < minutes * 60L; s += stepSeconds)
                {
                    var e = new MeterEvent(T0 + (s * TimeSpan.TicksPerSecond), 1, 1, 1, s == 0 ? MeterAction.OpenApp : MeterAction.Select);
                    charged += meter.Apply(e).Count(d => d.Kind == DecisionKind.Charged);
                }
                Assert.Equal((minutes + unit - 1) / unit, charged);
            });
    }

    [Fact]
    public void UnitsOfOneKey_NeverOverlap()
    {
        Gen.Select(Events, Options).Sample((events, options) =>
        {
            foreach (var key in Units(Run(options, events)).GroupBy(u => u.Item1))
            {
                var units = key.OrderBy(u => u.Item2).ToList();
                for (var i = 1; i < units.Count; i++)
                {
                    Assert.True(units[i - 1].Item3 <= units[i].Item2);
                }
            }
        });
    }

    [Fact]
    public void DeniedEvent_NeverStartsAUnit()
    {
        Gen.Select(Events, Options).Sample((events, options) =>
        {
            var decisions = Run(options, events);
            var starts = decisions.Where(d => d.Decision.Kind == DecisionKind.Charged)
                .Select(d => (d.Decision.Key, d.Decision.UnitStartTicks)).ToHashSet();
            foreach (var (e, d) in decisions)
            {
                if (d.Kind == DecisionKind.Denied)
                {
                    Assert.Equal(0, d.UnitStartTicks);
                    Assert.DoesNotContain((d.Key, e.TimeTicks), starts);
                }
                if (d.Kind == DecisionKind.Covered)
                {
                    // Every covering unit was really granted.
                    Assert.Contains((d.Key, d.UnitStartTicks), starts);
                }
            }
        });
    }

    [Fact]
    public void EveryUserEvent_YieldsExactlyOneDecision()
    {
        Gen.Select(Events, Options).Sample((events, options) =>
        {
            var meter = new Meter(options);
            foreach (var e in events.Where(e => e.Action != MeterAction.ScheduledReload))
            {
                Assert.Single(meter.Apply(e));
            }
        });
    }
}
