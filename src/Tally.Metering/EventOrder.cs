namespace Tally.Metering;

/// <summary>The replay order of R10: time order, ties kept in input order.</summary>
public static class EventOrder
{
    /// <summary>
    /// Returns the events in replay order. Logs are nearly always written in order already, so the check is a single
    /// pass and the sort only runs when needed.
    /// </summary>
    public static MeterEvent[] InTimeOrder(IReadOnlyList<MeterEvent> events)
    {
        var order = Permutation(events);
        var result = new MeterEvent[events.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = events[order is null ? i : order[i]];
        }
        return result;
    }

    /// <summary>
    /// The input positions of the events in replay order, or null when the input is already in it (the usual case,
    /// found by one pass). A sort moves (instant, position) keys, never the events themselves.
    /// </summary>
    public static int[]? Permutation(IReadOnlyList<MeterEvent> events)
    {
        var count = events.Count;
        var sorted = true;
        for (var i = 1; i < count && sorted; i++)
        {
            sorted = events[i - 1].TimeTicks <= events[i].TimeTicks;
        }
        if (sorted)
        {
            return null;
        }
        var ticks = new long[count];
        var order = new int[count];
        for (var i = 0; i < count; i++)
        {
            ticks[i] = events[i].TimeTicks;
            order[i] = i;
        }
        // A sort of primitive keys is several times faster than one of tuples, but not stable: each run of equal
        // instants is put back in input order afterwards, which gives exactly the stable order R10 asks for.
        Array.Sort(ticks, order);
        for (var start = 0; start < count;)
        {
            var end = start + 1;
            while (end < count && ticks[end] == ticks[start])
            {
                end++;
            }
            if (end - start > 1)
            {
                Array.Sort(order, start, end - start);
            }
            start = end;
        }
        return order;
    }
}

/// <summary>
/// The idempotency ids of a list of events, by position, so a caller may keep its ids however is cheapest (a parsed
/// file keeps them as text in a few large blocks rather than as one string per event).
/// </summary>
public interface IEventIds
{
    /// <summary>Whether the event at <paramref name="index"/> carries an id.</summary>
    bool HasId(int index);

    /// <summary>A hash of the id at <paramref name="index"/>; equal ids have equal hashes.</summary>
    int HashOf(int index);

    /// <summary>Whether the events at <paramref name="a"/> and <paramref name="b"/> carry the same id (ordinal).</summary>
    bool SameId(int a, int b);
}

/// <summary>The ids the events themselves carry (<see cref="MeterEvent.Id"/>).</summary>
public readonly struct IdsOfEvents(IReadOnlyList<MeterEvent> events) : IEventIds
{
    public bool HasId(int index) => events[index].Id is not null;

    public int HashOf(int index) => StringComparer.Ordinal.GetHashCode(events[index].Id!);

    public bool SameId(int a, int b) => string.Equals(events[a].Id, events[b].Id, StringComparison.Ordinal);
}

/// <summary>
/// Replays events through a meter the way R10 asks: in time order, ties in input order, duplicates by id reported
/// and otherwise ignored. For a whole log it finds duplicates in bulk first (ids split by hash across cores, each part
/// scanned in replay order) so the meter need not keep every id. The outcome equals applying the events one by one,
/// because the meter accepts every valid event's id on first sight, whatever its decision.
/// </summary>
public static class Replay
{
    public static void Run<TSink>(IReadOnlyList<MeterEvent> events, Meter meter, TSink sink, Action? perEvent = null) where TSink : IDecisionSink =>
        Run(events, new IdsOfEvents(events), meter, sink, perEvent);

    /// <summary>As above, with the events' ids given apart from them (<see cref="MeterEvent.Id"/> is then ignored).</summary>
    public static void Run<TSink, TIds>(IReadOnlyList<MeterEvent> events, TIds ids, Meter meter, TSink sink, Action? perEvent = null)
        where TSink : IDecisionSink where TIds : IEventIds
    {
        var order = EventOrder.Permutation(events);
        var duplicate = MarkDuplicates(events.Count, order, ids);
        for (var i = 0; i < duplicate.Length; i++)
        {
            perEvent?.Invoke();
            var e = events[order is null ? i : order[i]];
            if (duplicate[i])
            {
                meter.ApplyDuplicate(e, sink);
            }
            else
            {
                meter.Apply(e.Id is null ? e : e with { Id = null }, sink);
            }
        }
    }

    /// <summary>For events in replay order: true where an earlier event carried the same id.</summary>
    public static bool[] MarkDuplicates(MeterEvent[] ordered) => MarkDuplicates(ordered.Length, null, new IdsOfEvents(ordered));

    /// <summary>
    /// For the <paramref name="count"/> events taken in replay order (<paramref name="order"/>, or input order when
    /// null): true at replay position i where an earlier one carried the same id.
    /// </summary>
    public static bool[] MarkDuplicates<TIds>(int count, int[]? order, TIds ids) where TIds : IEventIds
    {
        var duplicate = new bool[count];
        var parts = count < 100_000 ? 1 : Math.Clamp(Environment.ProcessorCount, 1, 8);
        Parallel.For(0, parts, part =>
        {
            var seen = new IdSet<TIds>(ids, (count / parts) + 16);
            for (var i = 0; i < count; i++)
            {
                var index = order is null ? i : order[i];
                if (!ids.HasId(index))
                {
                    continue;
                }
                var hash = ids.HashOf(index);
                if (parts == 1 || (uint)hash % (uint)parts == part)
                {
                    duplicate[i] = !seen.Add(index, hash);
                }
            }
        });
        return duplicate;
    }

    /// <summary>
    /// A set of event positions keyed by their ids: open addressing over two int arrays, so a month of ids costs no
    /// object per id and comparisons go through <typeparamref name="TIds"/> without copying any id.
    /// </summary>
    private sealed class IdSet<TIds>(TIds ids, int expected) where TIds : IEventIds
    {
        private int[] _slots = new int[Capacity(expected)]; // event position + 1; 0 is empty
        private int[] _hashes = new int[Capacity(expected)];
        private int _count;

        /// <summary>Adds the id of event <paramref name="index"/>; false when an event with the same id is already in.</summary>
        public bool Add(int index, int hash)
        {
            if (_count * 2 >= _slots.Length)
            {
                Grow();
            }
            var mask = _slots.Length - 1;
            for (var slot = Spread(hash, _slots.Length); ; slot = (slot + 1) & mask)
            {
                var held = _slots[slot];
                if (held == 0)
                {
                    _slots[slot] = index + 1;
                    _hashes[slot] = hash;
                    _count++;
                    return true;
                }
                if (_hashes[slot] == hash && ids.SameId(held - 1, index))
                {
                    return false;
                }
            }
        }

        private void Grow()
        {
            var slots = _slots;
            var hashes = _hashes;
            _slots = new int[slots.Length * 2];
            _hashes = new int[slots.Length * 2];
            var mask = _slots.Length - 1;
            for (var i = 0; i < slots.Length; i++)
            {
                if (slots[i] == 0)
                {
                    continue;
                }
                var slot = Spread(hashes[i], _slots.Length);
                while (_slots[slot] != 0)
                {
                    slot = (slot + 1) & mask;
                }
                _slots[slot] = slots[i];
                _hashes[slot] = hashes[i];
            }
        }

        // The parts split ids by hash modulo the part count, so within a part the low bits agree: the slot is taken
        // from the high bits of a multiplicative hash instead.
        private static int Spread(int hash, int length) =>
            (int)(((uint)hash * 0x9E3779B1u) >> (32 - System.Numerics.BitOperations.Log2((uint)length)));

        private static int Capacity(int expected) => (int)Math.Min(1 << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, expected * 2)));
    }
}
