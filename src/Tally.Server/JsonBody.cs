using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Tally.Metering;

namespace Tally.Server;

/// <summary>
/// Reads a JSON body into its contract type with a hard size limit: over the limit is 413 before anything is parsed, malformed JSON is a
/// 400 that names where (e.g. <c>$[3].user</c>). Unknown fields are ignored.
/// </summary>
public static partial class JsonBody
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static async Task<Outcome<T, ProblemHttpResult>> ReadAsync<T>(HttpContext http, int maxBytes)
    {
        if (http.Request.ContentLength > maxBytes)
        {
            return TooLarge(maxBytes);
        }
        // A pooled buffer: a fresh one per request was most of the server's allocation under load (a 16 KiB chunk
        // plus a growing MemoryStream for every single-event access call).
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(http.Request.ContentLength ?? 4096, 256, maxBytes) + 1);
        var length = 0;
        try
        {
            int read;
            while ((read = await http.Request.Body.ReadAsync(buffer.AsMemory(length), http.RequestAborted).ConfigureAwait(false)) > 0)
            {
                length += read;
                if (length > maxBytes)
                {
                    return TooLarge(maxBytes);
                }
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }
            return Parse<T>(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static Outcome<T, ProblemHttpResult> Parse<T>(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return Problems.BadRequest("The request body is empty; send JSON.");
        }
        if (FindUnstorableString(body) is { } bad)
        {
            var match = IndexedField().Match(bad.Path);
            return match.Success && match.Groups[2].Success
                ? Problems.BadEvent(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value, bad.Reason)
                : Problems.BadRequest($"{bad.Path}: {bad.Reason}", new Dictionary<string, object?>
                {
                    ["path"] = bad.Path,
                    ["field"] = bad.Path.TrimStart('$').TrimStart('.'),
                    ["reason"] = bad.Reason,
                });
        }
        try
        {
            var value = JsonSerializer.Deserialize<T>(body, Options);
            return value is null ? Problems.BadRequest("The request body is null; send a JSON value.") : value;
        }
        catch (JsonException e)
        {
            var path = e.Path ?? "$";
            var match = IndexedField().Match(path);
            if (match.Success)
            {
                var index = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var field = match.Groups[2].Success ? match.Groups[2].Value : "";
                return field.Length > 0
                    ? Problems.BadEvent(index, field, "has the wrong JSON type or is malformed (expected a string)")
                    : Problems.BadRequest($"events[{index}] is not a JSON object", new Dictionary<string, object?> { ["index"] = index });
            }
            return Problems.BadRequest($"The body is not valid JSON of the expected shape at {path}.", new Dictionary<string, object?> { ["path"] = path });
        }
    }

    /// <summary>
    /// The first string (value or property name) in <paramref name="body"/> that no ledger can keep as sent: one with
    /// U+0000 (PostgreSQL text cannot hold it, and one such event used to fail every request committed with it) or an
    /// unpaired surrogate. Both can only be written in JSON as <c>\u</c> escapes, so a body without one is not walked.
    /// Returns the JSON path (<c>$[3].user</c>, <c>$.name</c>) and the reason; null for a body without either (or
    /// not valid JSON at all, which the deserializer then reports). Names and ids meet the stricter
    /// <see cref="Metering.EventValidation.CheckText"/> where each is validated.
    /// </summary>
    internal static (string Path, string Reason)? FindUnstorableString(ReadOnlySpan<byte> body)
    {
        if (body.IndexOf("\\u"u8) < 0)
        {
            return null;
        }
        // One frame per open container: its property name (object) or element index (array) so far.
        var frames = new List<(bool Array, int Index, string? Property)>();
        var reader = new Utf8JsonReader(body);
        try
        {
            while (reader.Read())
            {
                var token = reader.TokenType;
                if (token is JsonTokenType.EndObject or JsonTokenType.EndArray)
                {
                    frames.RemoveAt(frames.Count - 1);
                    continue;
                }
                if (token != JsonTokenType.PropertyName && frames.Count > 0 && frames[^1].Array)
                {
                    frames[^1] = frames[^1] with { Index = frames[^1].Index + 1 };
                }
                if (token == JsonTokenType.PropertyName)
                {
                    // A bad name is reported at its object, not under the previous property's name.
                    frames[^1] = frames[^1] with { Property = null };
                }
                if (token is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    string text;
                    try
                    {
                        text = reader.GetString()!;
                    }
                    catch (InvalidOperationException)
                    {
                        return (PathOf(frames, token == JsonTokenType.PropertyName ? "(a property name)" : null), "has an unpaired surrogate escape; send well-formed Unicode text");
                    }
                    if (text.Contains('\0', StringComparison.Ordinal))
                    {
                        return (PathOf(frames, token == JsonTokenType.PropertyName ? "(a property name)" : null), Metering.EventValidation.CheckText(text)!);
                    }
                }
                if (token == JsonTokenType.PropertyName)
                {
                    frames[^1] = frames[^1] with { Property = reader.GetString() };
                }
                else if (token is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    frames.Add((token == JsonTokenType.StartArray, -1, null));
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return null;
    }

    private static string PathOf(List<(bool Array, int Index, string? Property)> frames, string? last)
    {
        var path = new System.Text.StringBuilder("$");
        foreach (var (array, index, property) in frames)
        {
            path.Append(array ? $"[{index}]" : property is null ? "" : "." + property);
        }
        if (last is not null)
        {
            path.Append(' ').Append(last);
        }
        return path.ToString();
    }

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        Problems.Status(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"The request body exceeds {maxBytes} bytes.");

    [GeneratedRegex(@"^\$\[(\d+)\](?:\.(\w+))?")]
    private static partial Regex IndexedField();
}
