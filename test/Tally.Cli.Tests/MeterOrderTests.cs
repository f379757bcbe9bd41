using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tally.Cli.EventLog;
using Tally.Cli.Generation;
using Tally.Metering;

namespace Tally.Cli.Tests;

/// <summary>
/// R10 replays events in time order, ties in input order, whatever order the file holds them in; and the reader may
/// split a file across cores. Splitting may not change a byte of the report, shuffling only the order of tied rows.
/// </summary>
public sealed class MeterOrderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-order-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Meter_GeneratedMonthShuffledOrSplit_GivesTheSameReport()
    {
        // Enough events for the parallel duplicate marking (100,000 and more), every one with an id.
        var month = new EventGenerator(new GeneratorOptions { Events = 150_000, Users = 2_000, Apps = 40, Seed = 5 }).Generate();
        using var csv = new MemoryStream();
        EventWriter.Write(month, csv, EventFormat.Csv);
        var lines = Encoding.UTF8.GetString(csv.ToArray()).TrimEnd('\n').Split('\n');
        var body = WithDuplicates(lines[1..], out var duplicates);
        var ordered = Write("ordered.csv", lines[0], body);
        var shuffled = Write("shuffled.csv", lines[0], ShuffledKeepingTies(body));
        Assert.NotEqual(File.ReadAllText(ordered), File.ReadAllText(shuffled));

        var expected = Report(ordered, chunks: 1);
        using (var json = JsonDocument.Parse(expected))
        {
            Assert.Equal(duplicates, json.RootElement.GetProperty("totals").GetProperty("duplicateEvents").GetInt64());
        }
        Assert.Equal(expected, Report(ordered, chunks: 2));
        var fromShuffled = Report(shuffled, chunks: 1);
        Assert.Equal(fromShuffled, Report(shuffled, chunks: 3));
        // Byte for byte but for the order of rows that tie (users with equal minutes and units, apps with equal
        // units): the report breaks such ties by first appearance in the file, which a shuffle moves.
        Assert.Equal(RowsSorted(expected), RowsSorted(fromShuffled));
    }

    /// <summary>The report with the rows of every array in one canonical order, so that only their order is ignored.</summary>
    private static string RowsSorted(string json)
    {
        static JsonNode? Canonical(JsonNode? node) => node switch
        {
            JsonObject o => new JsonObject(
                o.Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
            JsonArray a => new JsonArray(
                [.. a.Select(Canonical).OrderBy(n => n?.ToJsonString(), StringComparer.Ordinal)]),
            _ => node?.DeepClone(),
        };
        return Canonical(JsonNode.Parse(json))!.ToJsonString();
    }

    /// <summary>
    /// Two of every 1,000 events sent again: one at once (the same instant, so the first in input order counts), the
    /// other 100 lines later with that line's instant (so the earlier instant counts).
    /// </summary>
    private static List<string> WithDuplicates(string[] body, out long duplicates)
    {
        var result = new List<string>(body.Length + (body.Length / 250));
        duplicates = 0;
        for (var i = 0; i < body.Length; i++)
        {
            result.Add(body[i]);
            if (i % 1000 == 0)
            {
                result.Add(body[i]);
                duplicates++;
            }
            if (i % 1000 == 600)
            {
                var original = body[i - 100];
                result.Add(body[i][..body[i].IndexOf(',')] + original[original.IndexOf(',')..]);
                duplicates++;
            }
        }
        return result;
    }

    /// <summary>A random order of the lines in which lines that share an instant keep their relative order (R10's ties).</summary>
    private static List<string> ShuffledKeepingTies(List<string> body)
    {
        var random = new Random(11);
        var keys = body.Select(_ => random.NextDouble()).ToArray();
        foreach (var sameInstant in Enumerable.Range(0, body.Count).GroupBy(i => body[i][..body[i].IndexOf(',')]))
        {
            var ascending = sameInstant.Select(i => keys[i]).Order().ToArray();
            var next = 0;
            foreach (var i in sameInstant)
            {
                keys[i] = ascending[next++];
            }
        }
        return [.. Enumerable.Range(0, body.Count).OrderBy(i => keys[i]).Select(i => body[i])];
    }

    private string Write(string name, string header, IEnumerable<string> body)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllLines(path, body.Prepend(header));
        return path;
    }

    private static string Report(string path, int chunks)
    {
        var log = EventLogReader.ReadFile(path, LogFormat.Csv, chunks: chunks);
        Assert.Equal(0, log.InvalidLines);
        var result = MeterRun.Run(log, new MeterOptions(), directory: null, keepUnits: true);
        using var output = new MemoryStream();
        MeterReportWriter.WriteJson(result, output, listUnits: true, top: 20);
        return Encoding.UTF8.GetString(output.ToArray());
    }
}
