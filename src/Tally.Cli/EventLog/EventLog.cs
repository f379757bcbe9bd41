using Tally.Metering;

namespace Tally.Cli.EventLog;

public enum LogFormat
{
    Csv,
    Jsonl,
}

/// <summary>A rejected input line: its number in the file (the CSV header is line 1) and why (R12).</summary>
public sealed record LineError(long Line, string Reason)
{
    public override string ToString() => $"line {Line}: {Reason}";
}

/// <summary>
/// A parsed event log: valid events in input order with their line numbers, the names they were interned from,
/// and every rejected line. Nothing from a rejected line reaches <see cref="Events"/>.
/// </summary>
public sealed class ParsedLog
{
    public List<MeterEvent> Events { get; } = [];
    public List<long> Lines { get; } = [];
    public List<LineError> Errors { get; } = [];
    public SymbolTable Users { get; } = new();
    public SymbolTable Devices { get; } = new();
    public SymbolTable Apps { get; } = new();

    /// <summary>Lines rejected: counted even where <see cref="Errors"/> keeps only the first ones.</summary>
    public long InvalidLines { get; set; }

    /// <summary>At most this many errors are kept with their reasons; the rest are only counted.</summary>
    public const int MaxErrorsKept = 1000;

    internal void Reject(long line, string reason)
    {
        InvalidLines++;
        if (Errors.Count < MaxErrorsKept)
        {
            Errors.Add(new LineError(line, reason));
        }
    }

    internal void Accept(in MeterEvent e, long line)
    {
        Events.Add(e);
        Lines.Add(line);
    }

    /// <summary>
    /// R10: events in time order, ties in input order. Logs are nearly always written in order already, so the
    /// check is a single pass and the sort only runs when needed.
    /// </summary>
    public MeterEvent[] InTimeOrder()
    {
        var events = Events.ToArray();
        var sorted = true;
        for (var i = 1; i < events.Length && sorted; i++)
        {
            sorted = events[i - 1].TimeTicks <= events[i].TimeTicks;
        }
        if (sorted)
        {
            return events;
        }
        var order = new (long Ticks, int Index)[events.Length];
        for (var i = 0; i < events.Length; i++)
        {
            order[i] = (events[i].TimeTicks, i);
        }
        // (ticks, input index) is a total order, so this unstable sort yields the stable order R10 asks for.
        Array.Sort(order);
        var result = new MeterEvent[events.Length];
        for (var i = 0; i < order.Length; i++)
        {
            result[i] = events[order[i].Index];
        }
        return result;
    }
}
