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

    /// <summary>Reads every line; <paramref name="progress"/> hears the characters read so far now and then (for a progress bar).</summary>
    public static ParsedLog Read(TextReader reader, LogFormat format, Action<long>? progress = null) =>
        format == LogFormat.Csv ? ReadCsv(reader, progress) : ReadJsonLines(reader, progress);

    private static ParsedLog ReadCsv(TextReader reader, Action<long>? progress)
    {
        var log = new ParsedLog();
        var header = reader.ReadLine();
        if (header is null)
        {
            log.Reject(1, "the file is empty; expected a header such as time,user,device,app,action,id");
            return log;
        }
        header = header.TrimStart('\uFEFF');
        var columns = new int[FieldNames.Length];
        Array.Fill(columns, -1);
        var headerFields = new List<string>();
        if (SplitCsv(header, headerFields) is { } headerError)
        {
            log.Reject(1, $"header: {headerError}");
            return log;
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
                return log;
            }
            columns[index] = c;
        }
        var missing = new[] { "time", "action" }.Where(n => columns[Array.IndexOf(FieldNames, n)] < 0).ToList();
        if (missing.Count > 0)
        {
            log.Reject(1, $"header: missing column {string.Join(" and ", missing.Select(m => $"'{m}'"))}; found: {header}");
            return log;
        }

        var fields = new List<string>(headerFields.Count);
        var ranges = new Range[headerFields.Count + 1];
        long lineNumber = 1;
        long chars = header.Length + 1;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            chars += line.Length + 1;
            if ((lineNumber & 0xFFFF) == 0)
            {
                progress?.Invoke(chars);
            }
            if (string.IsNullOrWhiteSpace(line))
            {
                continue; // blank lines carry no event; they are neither events nor errors
            }
            var span = line.AsSpan();
            int count;
            if (span.Contains('"'))
            {
                // Quoted fields are rare; take the careful path only for them.
                if (SplitCsv(line, fields) is { } quoteError)
                {
                    log.Reject(lineNumber, quoteError);
                    continue;
                }
                if (fields.Count != headerFields.Count)
                {
                    log.Reject(lineNumber, $"expected {headerFields.Count} fields as in the header, found {fields.Count}");
                    continue;
                }
                AcceptFields(log, lineNumber, Field(fields, columns[0]), Field(fields, columns[1]), Field(fields, columns[2]),
                    Field(fields, columns[3]), Field(fields, columns[4]), Field(fields, columns[5]));
                continue;
            }
            count = span.Split(ranges, ',');
            if (count != headerFields.Count)
            {
                log.Reject(lineNumber, $"expected {headerFields.Count} fields as in the header, found {span.Count(',') + 1}");
                continue;
            }
            AcceptFields(log, lineNumber, Field(span, ranges, columns[0]), Field(span, ranges, columns[1]), Field(span, ranges, columns[2]),
                Field(span, ranges, columns[3]), Field(span, ranges, columns[4]), Field(span, ranges, columns[5]));
        }
        progress?.Invoke(chars);
        return log;
    }

    private static ReadOnlySpan<char> Field(ReadOnlySpan<char> line, Range[] ranges, int column) =>
        column < 0 ? [] : line[ranges[column]].Trim();

    private static ReadOnlySpan<char> Field(List<string> fields, int column) => column < 0 ? [] : fields[column].AsSpan().Trim();

    private static void AcceptFields(ParsedLog log, long line, ReadOnlySpan<char> time, ReadOnlySpan<char> user, ReadOnlySpan<char> device,
        ReadOnlySpan<char> app, ReadOnlySpan<char> action, ReadOnlySpan<char> id)
    {
        var fields = new EventFields(time, user, device, app, action, id);
        if (EventValidation.Validate(fields, timeRequired: true, log.Users, log.Devices, log.Apps, out var e, out _) is { } error)
        {
            log.Reject(line, error.ToString());
            return;
        }
        log.Accept(e, line);
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
        long lineNumber = 0;
        long chars = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var values = new string?[FieldNames.Length];
        try
        {
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                lineNumber++;
                chars += line.Length + 1;
                if ((lineNumber & 0xFFFF) == 0)
                {
                    progress?.Invoke(chars);
                }
                if (string.IsNullOrWhiteSpace(line))
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
                AcceptFields(log, lineNumber, values[0], values[1], values[2], values[3], values[4], values[5]);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        progress?.Invoke(chars);
        return log;
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
