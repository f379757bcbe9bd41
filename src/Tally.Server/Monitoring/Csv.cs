using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Tally.Server.Monitoring;

/// <summary>
/// <c>?format=csv</c> for any report: the report is serialized exactly as its JSON answer, then the first top-level
/// array becomes the rows (a report without one, like the summary, is one row). Nested objects flatten into
/// dotted columns (<c>runRate.status</c>); nested arrays are written as JSON text. RFC 4180 quoting, CRLF lines.
/// </summary>
public static class Csv
{
    /// <summary>Answers <paramref name="report"/> as JSON, or as CSV when the query says <c>format=csv</c>; null when the format is unknown.</summary>
    public static IResult Report(HttpContext http, object report, string name)
    {
        var format = http.Request.Query["format"].ToString();
        if (format is "" or "json")
        {
            return TypedResults.Json(report, http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions);
        }
        if (format != "csv")
        {
            return Problems.BadRequest("format: must be json or csv.");
        }
        var options = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var text = Write(JsonSerializer.SerializeToElement(report, options));
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{name}.csv\"";
        return TypedResults.Text(text, "text/csv; charset=utf-8", Encoding.UTF8);
    }

    public static string Write(JsonElement report)
    {
        var rows = new List<Dictionary<string, string>>();
        JsonElement? array = null;
        if (report.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in report.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.Array)
                {
                    array = property.Value;
                    break;
                }
            }
        }
        else if (report.ValueKind == JsonValueKind.Array)
        {
            array = report;
        }
        if (array is { } items)
        {
            foreach (var item in items.EnumerateArray())
            {
                var row = new Dictionary<string, string>(StringComparer.Ordinal);
                Flatten(item, "", row);
                rows.Add(row);
            }
        }
        else
        {
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            Flatten(report, "", row);
            rows.Add(row);
        }

        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in rows.SelectMany(r => r.Keys).Where(seen.Add))
        {
            columns.Add(key);
        }
        var text = new StringBuilder();
        text.Append(string.Join(',', columns.Select(Quote))).Append("\r\n");
        foreach (var row in rows)
        {
            text.Append(string.Join(',', columns.Select(c => Quote(row.GetValueOrDefault(c, ""))))).Append("\r\n");
        }
        return text.ToString();
    }

    private static void Flatten(JsonElement value, string prefix, Dictionary<string, string> row)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    Flatten(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}.{property.Name}", row);
                }
                break;
            case JsonValueKind.Array:
                row[prefix] = value.GetRawText();
                break;
            case JsonValueKind.String:
                row[prefix] = value.GetString()!;
                break;
            case JsonValueKind.Number:
                row[prefix] = value.TryGetInt64(out var whole) ? whole.ToString(CultureInfo.InvariantCulture) : value.GetDouble().ToString("R", CultureInfo.InvariantCulture);
                break;
            case JsonValueKind.True:
                row[prefix] = "true";
                break;
            case JsonValueKind.False:
                row[prefix] = "false";
                break;
            default:
                row[prefix] = "";
                break;
        }
    }

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\r', '\n']) >= 0 || (field.Length > 0 && field[0] is '=' or '+' or '-' or '@')
            ? "\"" + (field.Length > 0 && field[0] is '=' or '+' or '@' ? "'" : "") + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : field;
}
