using System.Buffers;
using System.Text;
using System.Text.Json;
using Tally.Metering;

namespace Tally.Cli.EventLog;

/// <summary>
/// Reads CSV (header with columns found by name) or JSON Lines event logs into a <see cref="ParsedLog"/>.
/// Every line is validated by the core's <see cref="EventValidation"/>, so files and the server agree on
/// what a good event is.
/// </summary>
public static class EventLogReader
{
    private static readonly string[] FieldNames = ["time", "user", "device", "app", "action", "id"];

    /// <summary>Picks the format from the file extension; null when the extension names none.</summary>
    public static LogFormat? FormatFromExtension(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => LogFormat.Csv,
        ".jsonl" or ".ndjson" => LogFormat.Jsonl,
        _ => null,
    };

    /// <summary>Below this size a file is read on one thread: splitting would cost more than it saves.</summary>
    public const long ParallelThreshold = 8 << 20;

    /// <summary>
    /// Reads a file. A large one is cut at line boundaries into one chunk per core, the chunks are parsed in
    /// parallel, each into its own symbol tables, and the results are merged in file order, so the outcome (events,
    /// names, line numbers, errors) is exactly that of reading it in one go.
    /// </summary>
    public static ParsedLog ReadFile(string path, LogFormat format, Action<long>? progress = null, int? chunks = null)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var length = file.Length;
        var parts = Math.Max(1, chunks ?? (length < ParallelThreshold ? 1 : Environment.ProcessorCount));
        long bodyStart = 0;
        CsvColumns? columns = null;
        if (format == LogFormat.Csv)
        {
            var header = ReadFirstLine(file, out bodyStart);
            var headerLog = new ParsedLog();
            if (ReadHeader(header, headerLog) is not { } found)
            {
                return headerLog;
            }
            columns = found;
        }
        var bounds = ChunkBounds(file, bodyStart, length, parts);
        var logs = new ParsedLog[bounds.Count - 1];
        long done = 0;
        var linesRead = new long[logs.Length];
        Parallel.For(0, logs.Length, new ParallelOptions { MaxDegreeOfParallelism = logs.Length }, i =>
        {
            long last = 0;
            Action<long>? report = progress is null ? null : consumed =>
            {
                progress(Interlocked.Add(ref done, consumed - last));
                last = consumed;
            };
            // Line numbers are local to the chunk here (first line 1) and shifted when merged.
            if (columns is not null)
            {
                // The first chunk is the one the others are merged into: room for the whole file's events.
                var (log, lines) = ReadCsvChunk(path, bounds[i], bounds[i + 1], columns, i == 0 ? length - bodyStart : 0, report);
                logs[i] = log;
                linesRead[i] = lines;
                return;
            }
            using var chunk = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
            chunk.Position = bounds[i];
            using var reader = new StreamReader(new ChunkStream(chunk, bounds[i + 1] - bounds[i]), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: i == 0);
            logs[i] = new ParsedLog();
            linesRead[i] = ReadJsonLinesBody(reader, logs[i], firstLine: 1, 0, report);
        });
        long lineOffset = format == LogFormat.Csv ? 1 : 0; // the header is line 1
        var merged = logs[0];
        merged.ShiftLines(lineOffset);
        lineOffset += linesRead[0];
        for (var i = 1; i < logs.Length; i++)
        {
            merged.Append(logs[i], lineOffset);
            lineOffset += linesRead[i];
        }
        return merged;
    }

    private static string? ReadFirstLine(FileStream file, out long bodyStart)
    {
        var bytes = new List<byte>();
        int b;
        while ((b = file.ReadByte()) >= 0 && b != '\n')
        {
            bytes.Add((byte)b);
        }
        bodyStart = file.Position;
        if (b < 0 && bytes.Count == 0)
        {
            return null;
        }
        return System.Text.Encoding.UTF8.GetString([.. bytes]).TrimEnd('\r');
    }

    /// <summary>Offsets that cut [start, end) into about <paramref name="parts"/> pieces, each starting just after a newline.</summary>
    private static List<long> ChunkBounds(FileStream file, long start, long end, int parts)
    {
        var bounds = new List<long> { start };
        for (var i = 1; i < parts; i++)
        {
            var target = start + ((end - start) * i / parts);
            if (target <= bounds[^1])
            {
                continue;
            }
            file.Position = target;
            int b;
            while ((b = file.ReadByte()) >= 0 && b != '\n')
            {
            }
            var cut = file.Position;
            if (b >= 0 && cut < end && cut > bounds[^1])
            {
                bounds.Add(cut);
            }
        }
        bounds.Add(end);
        return bounds;
    }

    /// <summary>A read-only window of <paramref name="length"/> bytes over a stream, from its current position.</summary>
    private sealed class ChunkStream(Stream inner, long length) : Stream
    {
        private readonly long _length = length;
        private long _remaining = length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;
        public override long Position { get => _length - _remaining; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_remaining <= 0)
            {
                return 0;
            }
            var read = inner.Read(buffer, offset, (int)Math.Min(count, _remaining));
            _remaining -= read;
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Reads every line; <paramref name="progress"/> hears the characters read so far now and then (for a progress bar).</summary>
    public static ParsedLog Read(TextReader reader, LogFormat format, Action<long>? progress = null) =>
        format == LogFormat.Csv ? ReadCsv(reader, progress) : ReadJsonLines(reader, progress);

    private static ParsedLog ReadCsv(TextReader reader, Action<long>? progress)
    {
        var log = new ParsedLog();
        var header = reader.ReadLine();
        if (ReadHeader(header, log) is not { } columns)
        {
            return log;
        }
        ReadCsvBody(reader, columns, log, firstLine: 2, header!.Length + 1, progress);
        return log;
    }

    /// <summary>The CSV header: which column holds each field, and how many there are. Null (and a line-1 error) when unusable.</summary>
    private sealed record CsvColumns(int[] Index, int Count);

    private static CsvColumns? ReadHeader(string? header, ParsedLog log)
    {
        if (header is null)
        {
            log.Reject(1, "the file is empty; expected a header such as time,user,device,app,action,id");
            return null;
        }
        header = header.TrimStart('\uFEFF');
        var columns = new int[FieldNames.Length];
        Array.Fill(columns, -1);
        var headerFields = new List<string>();
        if (SplitCsv(header, headerFields) is { } headerError)
        {
            log.Reject(1, $"header: {headerError}");
            return null;
        }
        for (var c = 0; c < headerFields.Count; c++)
        {
            var index = Array.IndexOf(FieldNames, headerFields[c].Trim().ToLowerInvariant());
            if (index < 0)
            {
                continue; // extra columns are allowed and ignored
            }
            if (columns[index] >= 0)
            {
                log.Reject(1, $"header: column '{FieldNames[index]}' appears twice");
                return null;
            }
            columns[index] = c;
        }
        var missing = new[] { "time", "action" }.Where(n => columns[Array.IndexOf(FieldNames, n)] < 0).ToList();
        if (missing.Count > 0)
        {
            log.Reject(1, $"header: missing column {string.Join(" and ", missing.Select(m => $"'{m}'"))}; found: {header}");
            return null;
        }
        return new CsvColumns(columns, headerFields.Count);
    }

    /// <summary>Parses CSV lines into <paramref name="log"/>; returns how many lines it read, blank ones included.</summary>
    private static long ReadCsvBody(TextReader reader, CsvColumns header, ParsedLog log, long firstLine, long charsBefore, Action<long>? progress)
    {
        var line = new CsvLineReader(header, log);
        var lineNumber = firstLine - 1;
        var lines = new LineReader(reader);
        while (lines.TryReadLine(out var span))
        {
            lineNumber++;
            if ((lineNumber & 0xFFFF) == 0)
            {
                progress?.Invoke(charsBefore + lines.Consumed);
            }
            line.Read(span, lineNumber);
        }
        progress?.Invoke(charsBefore + lines.Consumed);
        return lineNumber - firstLine + 1;
    }

    /// <summary>
    /// Reads the CSV lines in bytes [<paramref name="start"/>, <paramref name="end"/>) of the file, numbered from 1,
    /// as UTF-8 bytes: the file is read in large blocks straight into one buffer, with no decoding to UTF-16 and no
    /// line copied, and the usual line (printable ASCII, no quotes) is parsed on its bytes (<see cref="CsvLineReader.TryReadAscii"/>).
    /// Any other line is decoded and takes the general path, so it is accepted or rejected exactly as before.
    /// <paramref name="expectedBytes"/>: size the log's lists for this many bytes of lines rather than the chunk's own.
    /// </summary>
    private static (ParsedLog Log, long Lines) ReadCsvChunk(string path, long start, long end, CsvColumns header, long expectedBytes, Action<long>? progress)
    {
        const int BlockSize = 1 << 20;
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var buffer = new byte[BlockSize];
        var filled = 0; // bytes in buffer[0..filled) not yet parsed
        var position = start;
        ParsedLog? log = null;
        CsvLineReader? line = null;
        long lineNumber = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2); // a line longer than the buffer
            }
            var read = position < end ? RandomAccess.Read(handle, buffer.AsSpan(filled, (int)Math.Min(buffer.Length - filled, end - position)), position) : 0;
            position += read;
            var atEnd = read == 0;
            var pending = buffer.AsSpan(0, filled + read);
            if (log is null)
            {
                // Size the lists once, from the line length of the first block: they are never grown by doubling.
                var newlines = pending.Count((byte)'\n');
                var total = Math.Max(expectedBytes, end - start);
                var estimate = newlines == 0 ? 0 : total / Math.Max(1, pending.Length / newlines) * 21 / 20;
                log = new ParsedLog((int)Math.Min(estimate + 16, Array.MaxLength / 2));
                line = new CsvLineReader(header, log);
            }
            while (true)
            {
                var newline = pending.IndexOf((byte)'\n');
                if (newline < 0 && !(atEnd && !pending.IsEmpty))
                {
                    break;
                }
                var text = newline < 0 ? pending : pending[..newline];
                pending = newline < 0 ? [] : pending[(newline + 1)..];
                if (!text.IsEmpty && text[^1] == '\r')
                {
                    text = text[..^1];
                }
                lineNumber++;
                line!.Read(text, lineNumber);
            }
            progress?.Invoke(position - start - pending.Length);
            if (atEnd)
            {
                return (log, lineNumber);
            }
            pending.CopyTo(buffer);
            filled = pending.Length;
        }
    }

    /// <summary>One CSV line at a time into a log: the header's columns and the buffers reused from line to line.</summary>
    private sealed class CsvLineReader(CsvColumns header, ParsedLog log)
    {
        private readonly List<string> _fields = new(header.Count);
        private readonly Range[] _ranges = new Range[header.Count + 1];
        private readonly AsciiSymbols _users = new(log.Users);
        private readonly AsciiSymbols _devices = new(log.Devices);
        private readonly AsciiSymbols _apps = new(log.Apps);
        private char[] _decoded = new char[256];

        /// <summary>Bytes a line may hold and still take <see cref="TryReadAscii"/>: printable ASCII except the quote.</summary>
        private static readonly SearchValues<byte> PlainAscii = SearchValues.Create([.. Enumerable.Range(' ', '~' - ' ' + 1).Where(b => b != '"').Select(b => (byte)b)]);

        /// <summary>Longest time and action fields the byte path widens on the stack; longer ones take the general path.</summary>
        private const int MaxShortField = 64;

        /// <summary>A line as UTF-8 bytes, without its line end.</summary>
        public void Read(ReadOnlySpan<byte> line, long lineNumber)
        {
            if (line.IndexOfAnyExcept(PlainAscii) < 0)
            {
                if (line.IndexOfAnyExcept((byte)' ') < 0)
                {
                    return; // blank
                }
                if (TryReadAscii(line, lineNumber))
                {
                    return;
                }
            }
            // Anything else is decoded as the text reader decoded it (invalid UTF-8 as U+FFFD) and read as text.
            if (_decoded.Length < line.Length)
            {
                _decoded = new char[Math.Max(line.Length, _decoded.Length * 2)];
            }
            var count = System.Text.Encoding.UTF8.GetChars(line, _decoded);
            Read(_decoded.AsSpan(0, count), lineNumber);
        }

        /// <summary>
        /// A printable-ASCII line without quotes, read on its bytes: split at commas, fields trimmed of spaces, the
        /// time and action parsed by the same code as <see cref="EventValidation.Validate"/>, names interned through
        /// <see cref="AsciiSymbols"/>. Accepts the line only where <see cref="EventValidation.Validate"/> would accept it
        /// with the same event; returns false, having added nothing, for every line it would reject (or is unsure of),
        /// so that the general path reports it with its usual reason.
        /// </summary>
        private bool TryReadAscii(ReadOnlySpan<byte> line, long lineNumber)
        {
            var ranges = _ranges;
            var count = header.Count;
            var found = 0;
            var start = 0;
            while (true)
            {
                if (found == count)
                {
                    return false; // more fields than the header
                }
                var comma = line[start..].IndexOf((byte)',');
                if (comma < 0)
                {
                    ranges[found++] = start..line.Length;
                    break;
                }
                ranges[found++] = start..(start + comma);
                start += comma + 1;
            }
            if (found != count)
            {
                return false;
            }
            var columns = header.Index;
            var timeBytes = AsciiField(line, columns[0]);
            var actionBytes = AsciiField(line, columns[4]);
            var user = AsciiField(line, columns[1]);
            var device = AsciiField(line, columns[2]);
            var app = AsciiField(line, columns[3]);
            var id = AsciiField(line, columns[5]);
            if (timeBytes.IsEmpty || timeBytes.Length > MaxShortField || actionBytes.IsEmpty || actionBytes.Length > MaxShortField
                || user.Length > EventValidation.MaxFieldLength || device.Length > EventValidation.MaxFieldLength
                || app.Length > EventValidation.MaxFieldLength || id.Length > EventValidation.MaxFieldLength)
            {
                return false;
            }
            Span<char> text = stackalloc char[MaxShortField];
            var action = text[..System.Text.Encoding.ASCII.GetChars(actionBytes, text)];
            if (!MeterActions.TryParse(action, out var parsedAction))
            {
                return false;
            }
            var time = text[..System.Text.Encoding.ASCII.GetChars(timeBytes, text)];
            if (EventValidation.ParseTime(time) is not { } instant)
            {
                return false;
            }
            // Trimmed printable ASCII is blank only when empty.
            if ((parsedAction.RequiresUser() && user.IsEmpty) || (parsedAction.RequiresApp() && app.IsEmpty))
            {
                return false;
            }
            var userId = parsedAction == MeterAction.ScheduledReload ? 0 : _users.Intern(user);
            log.AcceptAscii(new MeterEvent(instant.UtcTicks, userId, _devices.Intern(device), _apps.Intern(app), parsedAction), lineNumber, id);
            return true;
        }

        private ReadOnlySpan<byte> AsciiField(ReadOnlySpan<byte> line, int column) => column < 0 ? [] : line[_ranges[column]].Trim((byte)' ');

        /// <summary>A line as text (standard input, or a line the byte path does not take).</summary>
        public void Read(ReadOnlySpan<char> span, long lineNumber)
        {
            var columns = header.Index;
            var fields = _fields;
            var ranges = _ranges;
            if (span.IsWhiteSpace())
            {
                return; // blank lines carry no event; they are neither events nor errors
            }
            if (span.Contains('"'))
            {
                // Quoted fields are rare; take the careful path only for them.
                if (SplitCsv(span.ToString(), fields) is { } quoteError)
                {
                    log.Reject(lineNumber, quoteError);
                    return;
                }
                if (fields.Count != header.Count)
                {
                    log.Reject(lineNumber, $"expected {header.Count} fields as in the header, found {fields.Count}");
                    return;
                }
                AcceptFields(log, lineNumber, Field(fields, columns[0]), Field(fields, columns[1]), Field(fields, columns[2]),
                    Field(fields, columns[3]), Field(fields, columns[4]), Field(fields, columns[5]), printableAscii: false);
                return;
            }
            if (span.Split(ranges, ',') != header.Count)
            {
                log.Reject(lineNumber, $"expected {header.Count} fields as in the header, found {span.Count(',') + 1}");
                return;
            }
            AcceptFields(log, lineNumber, Field(span, ranges, columns[0]), Field(span, ranges, columns[1]), Field(span, ranges, columns[2]),
                Field(span, ranges, columns[3]), Field(span, ranges, columns[4]), Field(span, ranges, columns[5]),
                printableAscii: !span.ContainsAnyExceptInRange(' ', '~'));
        }
    }

    private static ReadOnlySpan<char> Field(ReadOnlySpan<char> line, Range[] ranges, int column) =>
        column < 0 ? [] : line[ranges[column]].Trim();

    private static ReadOnlySpan<char> Field(List<string> fields, int column) => column < 0 ? [] : fields[column].AsSpan().Trim();

    /// <summary>
    /// Validates one line's fields into <paramref name="log"/>. <paramref name="printableAscii"/>: the whole line is
    /// printable ASCII (as generated and most real logs are), so it holds no control character or surrogate and the
    /// text check of each field (R12) can be skipped: one vectorised scan of the line instead of several per field.
    /// </summary>
    private static void AcceptFields(ParsedLog log, long line, ReadOnlySpan<char> time, ReadOnlySpan<char> user, ReadOnlySpan<char> device,
        ReadOnlySpan<char> app, ReadOnlySpan<char> action, ReadOnlySpan<char> id, bool printableAscii)
    {
        var fields = new EventFields(time, user, device, app, action, id);
        var parsed = EventValidation.Validate(fields, timeRequired: true, log.Users, log.Devices, log.Apps, checkText: !printableAscii, keepId: false);
        if (parsed.IsOk)
        {
            log.Accept(parsed.Value, line, id);
        }
        else
        {
            log.Reject(line, parsed.Error.ToString());
        }
    }

    /// <summary>RFC 4180 splitting of one line: quoted fields may hold commas and doubled quotes.</summary>
    private static string? SplitCsv(string line, List<string> fields)
    {
        fields.Clear();
        var current = new StringBuilder();
        var i = 0;
        while (true)
        {
            current.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        return $"unterminated quoted field {fields.Count + 1}";
                    }
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            current.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    current.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',')
                {
                    return $"unexpected character after the closing quote of field {fields.Count + 1}";
                }
            }
            else
            {
                var end = line.IndexOf(',', i);
                var stop = end < 0 ? line.Length : end;
                current.Append(line, i, stop - i);
                i = stop;
            }
            fields.Add(current.ToString());
            if (i >= line.Length)
            {
                return null;
            }
            i++; // the comma
            if (i == line.Length)
            {
                fields.Add("");
                return null;
            }
        }
    }

    private static ParsedLog ReadJsonLines(TextReader reader, Action<long>? progress)
    {
        var log = new ParsedLog();
        ReadJsonLinesBody(reader, log, firstLine: 1, charsBefore: 0, progress);
        return log;
    }

    /// <summary>Parses JSON Lines into <paramref name="log"/>; returns how many lines it read, blank ones included.</summary>
    private static long ReadJsonLinesBody(TextReader reader, ParsedLog log, long firstLine, long charsBefore, Action<long>? progress)
    {
        var lineNumber = firstLine - 1;
        var lines = new LineReader(reader);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var values = new string?[FieldNames.Length];
        try
        {
            while (lines.TryReadLine(out var line))
            {
                lineNumber++;
                if ((lineNumber & 0xFFFF) == 0)
                {
                    progress?.Invoke(charsBefore + lines.Consumed);
                }
                if (line.IsWhiteSpace())
                {
                    continue;
                }
                var max = Encoding.UTF8.GetMaxByteCount(line.Length);
                if (buffer.Length < max)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(max);
                }
                var length = Encoding.UTF8.GetBytes(line, buffer);
                if (ReadJsonObject(buffer.AsSpan(0, length), values) is { } jsonError)
                {
                    log.Reject(lineNumber, jsonError);
                    continue;
                }
                AcceptFields(log, lineNumber, values[0], values[1], values[2], values[3], values[4], values[5], printableAscii: false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        progress?.Invoke(charsBefore + lines.Consumed);
        return lineNumber - firstLine + 1;
    }

    /// <summary>One JSON object per line; known fields must be strings (or null), unknown fields are ignored.</summary>
    private static string? ReadJsonObject(ReadOnlySpan<byte> json, string?[] values)
    {
        Array.Clear(values);
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return "expected a JSON object";
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString() ?? "";
                reader.Read();
                var index = Array.IndexOf(FieldNames, name);
                if (index < 0)
                {
                    reader.Skip();
                    continue;
                }
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                {
                    return $"{name}: must be a string";
                }
                values[index] = reader.GetString();
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return "expected exactly one JSON object on the line";
            }
            return null;
        }
        catch (JsonException ex)
        {
            return $"invalid JSON at byte {ex.BytePositionInLine ?? reader.BytesConsumed}: {FirstSentence(ex.Message)}";
        }
    }

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot < 0 ? message : message[..dot];
    }
}
