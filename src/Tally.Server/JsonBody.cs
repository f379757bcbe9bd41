using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Tally.Server;

/// <summary>
/// Reads a JSON body with a hard size limit: over the limit is 413 before anything is parsed, malformed JSON is a
/// 400 that names where (e.g. <c>$[3].user</c>). Unknown fields are ignored.
/// </summary>
public static partial class JsonBody
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpContext http, int maxBytes)
    {
        if (http.Request.ContentLength > maxBytes)
        {
            return (default, TooLarge(maxBytes));
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
                    return (default, TooLarge(maxBytes));
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

    private static (T? Value, IResult? Problem) Parse<T>(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return (default, Problems.BadRequest("The request body is empty; send JSON."));
        }
        try
        {
            var value = JsonSerializer.Deserialize<T>(body, Options);
            return value is null ? (default, Problems.BadRequest("The request body is null; send a JSON value.")) : (value, null);
        }
        catch (JsonException e)
        {
            var path = e.Path ?? "$";
            var match = IndexedField().Match(path);
            if (match.Success)
            {
                var index = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var field = match.Groups[2].Success ? match.Groups[2].Value : "";
                return (default, field.Length > 0
                    ? Problems.BadEvent(index, field, "has the wrong JSON type or is malformed (expected a string)")
                    : Problems.BadRequest($"events[{index}] is not a JSON object", new Dictionary<string, object?> { ["index"] = index }));
            }
            return (default, Problems.BadRequest($"The body is not valid JSON of the expected shape at {path}.", new Dictionary<string, object?> { ["path"] = path }));
        }
    }

    private static IResult TooLarge(int maxBytes) =>
        Problems.Status(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"The request body exceeds {maxBytes} bytes.");

    [GeneratedRegex(@"^\$\[(\d+)\](?:\.(\w+))?")]
    private static partial Regex IndexedField();
}
