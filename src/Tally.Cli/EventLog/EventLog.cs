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
/// A parsed event log: valid events in input order with their line numbers and ids, the names they were interned
/// from, and every rejected line. Nothing from a rejected line reaches <see cref="Events"/>.
/// </summary>
public sealed class ParsedLog
{
    public ParsedLog()
    {
    }

    /// <summary>
    /// A log expected to hold about <paramref name="expectedEvents"/> events: its lists are allocated once at that
    /// size rather than grown by doubling, each growth a copy of everything read so far (and, for millions of events,
    /// a large-object allocation that can set off a full collection).
    /// </summary>
    public ParsedLog(int expectedEvents)
    {
        Events.EnsureCapacity(expectedEvents);
        Lines.EnsureCapacity(expectedEvents);
        _ids.EnsureCapacity(expectedEvents);
    }

    /// <summary>The events, without their ids (<see cref="MeterEvent.Id"/> is null): see <see cref="IdOf"/> and <see cref="Ids"/>.</summary>
    public List<MeterEvent> Events { get; } = [];
    public List<long> Lines { get; } = [];

    /// <summary>
    /// Each event's id kept as text in a few large blocks instead of one string per event: a month of events would
    /// otherwise leave millions of small objects for the garbage collector to copy while the file is read.
    /// </summary>
    private readonly EventIdText _ids = new();

    /// <summary>The id of event <paramref name="index"/>, or null when it has none.</summary>
    public string? IdOf(int index) => _ids.TextOf(index);

    /// <summary>The events' ids for <see cref="Replay"/>.</summary>
    public IEventIds Ids => _ids;

    /// <summary><see cref="Ids"/> as a struct, which <see cref="Replay"/> runs faster with.</summary>
    internal EventIdText.View IdView => new(_ids);
    public List<LineError> Errors { get; } = [];
    public SymbolTable Users { get; private init; } = new();
    public SymbolTable Devices { get; private init; } = new();
    public SymbolTable Apps { get; private init; } = new();

    /// <summary>
    /// The events that had happened by <paramref name="utcTicks"/> (at or before it), in input order with their lines
    /// and ids: what a report "as of" that instant may see. Names are shared with this log, not copied, so an event's
    /// user, device and app ids mean the same in both; rejected lines stay with this log.
    /// </summary>
    internal ParsedLog AtOrBefore(long utcTicks)
    {
        var seen = new ParsedLog { Users = Users, Devices = Devices, Apps = Apps };
        for (var i = 0; i < Events.Count; i++)
        {
            if (Events[i].TimeTicks <= utcTicks)
            {
                seen.Accept(Events[i], Lines[i], IdOf(i));
            }
        }
        return seen;
    }

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

    internal void Accept(in MeterEvent e, long line, ReadOnlySpan<char> id)
    {
        Events.Add(e);
        Lines.Add(line);
        _ids.Add(id);
    }

    /// <summary>As <see cref="Accept(in MeterEvent, long, ReadOnlySpan{char})"/>, the id given as ASCII bytes.</summary>
    internal void AcceptAscii(in MeterEvent e, long line, ReadOnlySpan<byte> id)
    {
        Events.Add(e);
        Lines.Add(line);
        _ids.AddAscii(id);
    }

    internal void ShiftLines(long offset)
    {
        if (offset == 0)
        {
            return;
        }
        for (var i = 0; i < Lines.Count; i++)
        {
            Lines[i] += offset;
        }
        for (var i = 0; i < Errors.Count; i++)
        {
            Errors[i] = Errors[i] with { Line = Errors[i].Line + offset };
        }
    }

    /// <summary>
    /// Appends a later chunk: its names are interned into this log's tables (few, so cheap) and its events rewritten
    /// with this log's ids; line numbers move by <paramref name="lineOffset"/>. Errors stay in file order.
    /// </summary>
    internal void Append(ParsedLog later, long lineOffset)
    {
        var users = Remap(later.Users, Users);
        var devices = Remap(later.Devices, Devices);
        var apps = Remap(later.Apps, Apps);
        Events.EnsureCapacity(Events.Count + later.Events.Count);
        Lines.EnsureCapacity(Lines.Count + later.Lines.Count);
        for (var i = 0; i < later.Events.Count; i++)
        {
            var e = later.Events[i];
            Events.Add(e with { User = users[e.User], Device = devices[e.Device], App = apps[e.App] });
            Lines.Add(later.Lines[i] + lineOffset);
        }
        _ids.Append(later._ids);
        foreach (var error in later.Errors)
        {
            if (Errors.Count < MaxErrorsKept)
            {
                Errors.Add(error with { Line = error.Line + lineOffset });
            }
        }
        InvalidLines += later.InvalidLines;
    }

    private static int[] Remap(SymbolTable from, SymbolTable into)
    {
        var map = new int[from.Count + 1];
        for (var id = 1; id <= from.Count; id++)
        {
            map[id] = into.Intern(from.NameOf(id));
        }
        return map;
    }
}
