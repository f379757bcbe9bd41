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

    /// <summary>R10: events in time order, ties in input order.</summary>
    public MeterEvent[] InTimeOrder() => EventOrder.InTimeOrder(Events);
}
