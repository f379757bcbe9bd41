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
        var result = new MeterEvent[events.Count];
        var sorted = true;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = events[i];
            sorted &= i == 0 || result[i - 1].TimeTicks <= result[i].TimeTicks;
        }
        if (sorted)
        {
            return result;
        }
        var order = new (long Ticks, int Index)[result.Length];
        for (var i = 0; i < result.Length; i++)
        {
            order[i] = (result[i].TimeTicks, i);
        }
        // (ticks, input index) is a total order, so this unstable sort yields the stable order R10 asks for.
        Array.Sort(order);
        var ordered = new MeterEvent[result.Length];
        for (var i = 0; i < order.Length; i++)
        {
            ordered[i] = result[order[i].Index];
        }
        return ordered;
    }
}

/// <summary>
/// Replays events through a meter the way R10 asks: in time order, ties in input order, duplicates by id reported
/// and otherwise ignored. For a whole log it finds duplicates in bulk first (ids split by hash across cores, each part
/// scanned in replay order) so the meter need not keep every id. The outcome equals applying the events one by one,
/// because the meter accepts every valid event's id on first sight, whatever its decision.
/// </summary>
public static class Replay
{
    public static void Run<TSink>(IReadOnlyList<MeterEvent> events, Meter meter, TSink sink, Action? perEvent = null) where TSink : IDecisionSink
    {
        var ordered = EventOrder.InTimeOrder(events);
        var duplicate = MarkDuplicates(ordered);
        for (var i = 0; i < ordered.Length; i++)
        {
            perEvent?.Invoke();
            if (duplicate[i])
            {
                meter.ApplyDuplicate(ordered[i], sink);
            }
            else
            {
                meter.Apply(ordered[i] with { Id = null }, sink);
            }
        }
    }

    /// <summary>For events in replay order: true where an earlier event carried the same id.</summary>
    public static bool[] MarkDuplicates(MeterEvent[] ordered)
    {
        var duplicate = new bool[ordered.Length];
        var parts = Math.Clamp(Environment.ProcessorCount, 1, 8);
        if (ordered.Length < 100_000)
        {
            parts = 1;
        }
        Parallel.For(0, parts, part =>
        {
            var seen = new HashSet<string>((ordered.Length / parts) + 16, StringComparer.Ordinal);
            for (var i = 0; i < ordered.Length; i++)
            {
                if (ordered[i].Id is { } id && (parts == 1 || (uint)StringComparer.Ordinal.GetHashCode(id) % (uint)parts == part))
                {
                    duplicate[i] = !seen.Add(id);
                }
            }
        });
        return duplicate;
    }
}
