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
