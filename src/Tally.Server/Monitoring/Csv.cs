using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Tally.Server.Monitoring;

/// <summary>
/// <c>?format=csv</c> for any report: the report is serialized exactly as its JSON answer, then the first top-level
/// array becomes the rows (a report without one, like the summary, is one row). Nested objects flatten into
/// dotted columns (<c>runRate.status</c>); nested arrays are written as JSON text. Cells are written by
/// <see cref="CsvWriter"/> (RFC 4180 quoting, CRLF lines, text neutralised against formula injection).
/// </summary>
public static class Csv
{
    /// <summary>Marks a report endpoint that also answers <c>text/csv</c> (<c>?format=csv</c>).</summary>
    public sealed record Export;

    /// <summary>Says in the OpenAPI document that this report's 200 may be CSV as well as its JSON contract type.</summary>
    public static TBuilder ProducesCsv<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new Export());

    /// <summary>Adds <c>text/csv</c> beside the JSON schema of every 200 whose endpoint is marked <see cref="ProducesCsv"/>.</summary>
    public static Microsoft.AspNetCore.OpenApi.OpenApiOptions AddCsvExports(this Microsoft.AspNetCore.OpenApi.OpenApiOptions options) =>
        options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<Export>().Any()
                && operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content is { } content)
            {
                content["text/csv"] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            }
            return Task.CompletedTask;
        });

    /// <summary>
    /// Answers <paramref name="report"/> as JSON (200 with the contract type, so the OpenAPI document has its schema), or
    /// as CSV when the query says <c>format=csv</c>; a 400 when the format is unknown. <paramref name="csvRows"/>, for a
    /// report with several lists, picks the one the CSV's rows are (the waste report's <c>?by=</c>); by default the
    /// report's first.
    /// </summary>
    public static Results<Ok<T>, ContentHttpResult, ProblemHttpResult> Report<T>(HttpContext http, T report, string name, Func<T, object>? csvRows = null)
    {
        var format = http.Request.Query["format"].ToString();
        if (format is "" or "json")
        {
            // The server's JSON options (camelCase, nulls left out) are what Ok<T> writes with.
            return TypedResults.Ok(report);
        }
        if (format != "csv")
        {
            return Problems.BadRequest("format: must be json or csv.");
        }
        var options = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var text = Write(csvRows is null ? JsonSerializer.SerializeToElement(report, options) : JsonSerializer.SerializeToElement(csvRows(report), options));
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{name}.csv\"";
        return TypedResults.Text(text, "text/csv; charset=utf-8", Encoding.UTF8);
    }

    public static string Write(JsonElement report)
    {
        var rows = new List<Dictionary<string, JsonElement>>();
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
                var row = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                Flatten(item, "", row);
                rows.Add(row);
            }
        }
        else
        {
            var row = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            Flatten(report, "", row);
            rows.Add(row);
        }

        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in rows.SelectMany(r => r.Keys).Where(seen.Add))
        {
            columns.Add(key);
        }
        var text = new StringWriter(CultureInfo.InvariantCulture);
        var csv = new CsvWriter(text);
        csv.Row(columns);
        foreach (var row in rows)
        {
            foreach (var column in columns)
            {
                Cell(csv, row.TryGetValue(column, out var value) ? value : default);
            }
            csv.EndRow();
        }
        return text.ToString();
    }

    /// <summary>Leaves (and nested arrays, kept whole) under their dotted column name.</summary>
    private static void Flatten(JsonElement value, string prefix, Dictionary<string, JsonElement> row)
    {
        if (value.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in value.EnumerateObject())
            {
                Flatten(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}.{property.Name}", row);
            }
        }
        else
        {
            row[prefix] = value;
        }
    }

    /// <summary>
    /// JSON numbers are figures the server computed, written as they are (a negative one stays a number); every string
    /// may carry a user's, app's or rule's name, so it is text to <see cref="CsvWriter"/> and neutralised there.
    /// </summary>
    private static void Cell(CsvWriter csv, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Number when value.TryGetInt64(out var whole):
                csv.Number(whole);
                break;
            case JsonValueKind.Number:
                csv.Number(value.GetDouble());
                break;
            case JsonValueKind.String:
                csv.Text(value.GetString());
                break;
            case JsonValueKind.Array:
                csv.Text(value.GetRawText());
                break;
            case JsonValueKind.True:
                csv.Text("true");
                break;
            case JsonValueKind.False:
                csv.Text("false");
                break;
            default:
                csv.Text(null);
                break;
        }
    }
}
