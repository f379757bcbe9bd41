using System.Text;
using Tally.Cli.EventLog;

namespace Tally.Cli.Tests;

public sealed class EventLogReaderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-reader-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static IEnumerable<string> Lines(int count, Func<int, bool> bad)
    {
        for (var i = 0; i < count; i++)
        {
            yield return bad(i)
                ? $"not-a-time,u{i % 7},d{i % 3},app{i % 5},open-app,e{i}"
                : $"2026-03-02T09:{i / 60 % 60:D2}:{i % 60:D2}Z,u{i % 7},d{i % 3},app{i % 5},{(i % 4 == 0 ? "open-app" : "select")},e{i}";
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void ReadFile_InChunks_EqualsReadingInOneGo(int chunks)
    {
        var path = Path.Combine(_folder, "events.csv");
        // CRLF line ends, a quoted field, bad lines spread over every chunk, and no newline at the very end.
        var lines = Lines(3000, i => i % 377 == 5).Select((l, i) => i == 1500 ? l.Replace(",u", ",\"u") .Replace(",d", "\",d") : l);
        File.WriteAllText(path, "time,user,device,app,action,id\r\n" + string.Join("\r\n", lines));

        var whole = EventLogReader.ReadFile(path, LogFormat.Csv, chunks: 1);
        var split = EventLogReader.ReadFile(path, LogFormat.Csv, chunks: chunks);

        Assert.Equal(whole.Errors, split.Errors);
        Assert.Equal(whole.InvalidLines, split.InvalidLines);
        Assert.Equal(whole.Lines, split.Lines);
        Assert.Equal(whole.Events.Count, split.Events.Count);
        for (var i = 0; i < whole.Events.Count; i++)
        {
            var a = whole.Events[i];
            var b = split.Events[i];
            Assert.Equal((a.TimeTicks, a.Action, whole.IdOf(i)), (b.TimeTicks, b.Action, split.IdOf(i)));
            Assert.Equal(whole.Users.NameOf(a.User), split.Users.NameOf(b.User));
            Assert.Equal(whole.Devices.NameOf(a.Device), split.Devices.NameOf(b.Device));
            Assert.Equal(whole.Apps.NameOf(a.App), split.Apps.NameOf(b.App));
        }
        // Line 2 is the first event; bad line i sits on file line i + 2.
        Assert.Equal(7L, whole.Errors[0].Line);
        Assert.Equal("u2", whole.Users.NameOf(whole.Events.Where((_, i) => whole.IdOf(i) == "e1500").Single().User)); // the quoted field
    }

    [Fact]
    public void ReadFile_JsonLinesInChunks_EqualsReadingInOneGo()
    {
        var path = Path.Combine(_folder, "events.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 2000).Select(i => i % 333 == 7
            ? "{broken"
            : $"{{\"time\":\"2026-03-02T09:{i / 60 % 60:D2}:{i % 60:D2}Z\",\"user\":\"u{i % 9}\",\"app\":\"a{i % 4}\",\"action\":\"select\"}}"));
        var whole = EventLogReader.ReadFile(path, LogFormat.Jsonl, chunks: 1);
        var split = EventLogReader.ReadFile(path, LogFormat.Jsonl, chunks: 4);
        Assert.Equal(whole.Errors, split.Errors);
        Assert.Equal(whole.Lines, split.Lines);
        Assert.Equal(8L, whole.Errors[0].Line);
        Assert.Equal(whole.Events.Select(e => whole.Users.NameOf(e.User)), split.Events.Select(e => split.Users.NameOf(e.User)));
    }

    /// <summary>
    /// Lines the byte-level CSV path must read exactly as the text path does: quotes, multi-byte UTF-8 names, CRLF,
    /// blank and whitespace lines, empty and padded fields, control characters, invalid UTF-8, a byte-order mark in a
    /// line, long fields, and every kind of bad line.
    /// </summary>
    private static readonly string[] AdversarialLines =
    [
        "2026-03-02T09:00:00Z,u1,d1,app1,open-app,e1",
        "2026-03-02T09:00:01Z,\"u,1\",d1,app1,select,e2",
        "2026-03-02T09:00:02Z,\"u\"\"q\",d1,app1,select,e3",
        "2026-03-02T09:00:03Z,\"unterminated,d1,app1,select,e4",
        "2026-03-02T09:00:04Z,\"u1\"x,d1,app1,select,e5",
        "2026-03-02T09:00:05Z,jürgen,d1,アプリ,select,e6",
        "2026-03-02T09:00:06Z,😀,d1,app1,select,e7",
        "",
        "   ",
        "\t",
        "2026-03-02T09:00:07Z,,,,heartbeat,",
        "2026-03-02T09:00:08Z, u2 , d2 , app2 , select , e8 ",
        "  2026-03-02T09:00:09Z  ,u2,,app2,select,",
        "2026-03-02T09:00:10Z,u3,d3,app3,select",
        "2026-03-02T09:00:10Z,u3,d3,app3,select,e9,extra",
        "not-a-time,u3,d3,app3,select,e10",
        "2026-03-02T09:00:11,u3,d3,app3,select,e11",
        "2026-03-02 09:00:12Z,u3,d3,app3,select,e12",
        "2026-03-02T09:00:13+02:00,u3,d3,app3,select,e13",
        "2026-03-02t09:00:14z,u3,d3,app3,select,e14",
        "2026-03-02T09:00:15.1234567Z,u3,d3,app3,select,e15",
        "2026-02-30T09:00:16Z,u3,d3,app3,select,e16",
        "2026-03-02T09:00:17Z,u3,d3,app3,jump,e17",
        "2026-03-02T09:00:18Z,u3,d3,app3,,e18",
        "2026-03-02T09:00:19Z,,d3,app3,select,e19",
        "2026-03-02T09:00:20Z,u3,d3,,select,e20",
        "2026-03-02T09:00:21Z,u3,d3,,logout,e21",
        "2026-03-02T09:00:22Z,u9,,app4,scheduled-reload,e22",
        "2026-03-02T09:00:23Z,u\u0001x,d3,app3,select,e23",
        "2026-03-02T09:00:24Z,u\u007fx,d3,app3,select,e24",
        "2026-03-02T09:00:25Z,u\u0085x,d3,app3,select,e25",
        "\uFEFF2026-03-02T09:00:26Z,u3,d3,app3,select,e26",
        "2026-03-02T09:00:27Z,u3\rx,d3,app3,select,e27",
        $"2026-03-02T09:00:28Z,{new string('u', 257)},d3,app3,select,e28",
        $"2026-03-02T09:00:29Z,u3,d3,app3,select,{new string('e', 256)}",
        $"2026-03-02T09:00:30Z,u3,d3,app3,select,{new string('e', 257)}",
        $"2026-03-02T09:00:31.{new string('1', 60)}Z,u3,d3,app3,select,e31",
        "2026-03-02T09:00:32Z,u1,d1,app1,select,e1",
        ",,,,,",
        "2026-03-02T09:00:33Z,u1,d1,app1,close-app,e33",
    ];

    [Theory]
    [InlineData("\n", 1)]
    [InlineData("\r\n", 1)]
    [InlineData("\n", 3)]
    [InlineData("\r\n", 5)]
    public void ReadFile_BytePath_EqualsTheTextReader(string newline, int chunks)
    {
        var path = Path.Combine(_folder, "adversarial.csv");
        // Columns in another order and an extra one, so the byte path finds fields by the header as the text path does.
        var lines = AdversarialLines.Select(Reordered);
        var bytes = Encoding.UTF8.GetBytes("id,extra,time,user,device,app,action" + newline + string.Join(newline, lines) + newline);
        // Invalid UTF-8 on one more line (decoded as U+FFFD by both paths), and no line end after the last.
        bytes = [.. bytes, .. Encoding.UTF8.GetBytes("e40,x,2026-03-02T09:00:40Z,u"), 0xFF, 0xC3, .. Encoding.UTF8.GetBytes(",d1,app1,select" + newline),
            .. Encoding.UTF8.GetBytes("e41,x,2026-03-02T09:00:41Z,u1,d1,app1,select")];
        File.WriteAllBytes(path, bytes);

        using var text = new StreamReader(path, Encoding.UTF8);
        var expected = EventLogReader.Read(text, LogFormat.Csv);
        var actual = EventLogReader.ReadFile(path, LogFormat.Csv, chunks: chunks);

        AssertSameLog(expected, actual);
        Assert.True(expected.Events.Count > 10);
        Assert.True(expected.InvalidLines > 15);
    }

    /// <summary>A line of AdversarialLines (time,user,device,app,action,id) with its last field moved to the front and an extra field after it.</summary>
    private static string Reordered(string line)
    {
        var last = line.LastIndexOf(',');
        return string.IsNullOrWhiteSpace(line) || last < 0 ? line : line[(last + 1)..] + ",x," + line[..last];
    }

    [Fact]
    public void ReadFile_GeneratedMonth_EqualsTheTextReader()
    {
        var month = new Generation.EventGenerator(new Generation.GeneratorOptions { Events = 30_000, Users = 500, Apps = 20, Seed = 9 }).Generate();
        var path = Path.Combine(_folder, "month.csv");
        using (var file = File.Create(path))
        {
            Generation.EventWriter.Write(month, file, Generation.EventFormat.Csv);
        }
        using var text = new StreamReader(path, Encoding.UTF8);
        var expected = EventLogReader.Read(text, LogFormat.Csv);
        Assert.Equal(30_000, expected.Events.Count);
        AssertSameLog(expected, EventLogReader.ReadFile(path, LogFormat.Csv, chunks: 1));
        AssertSameLog(expected, EventLogReader.ReadFile(path, LogFormat.Csv, chunks: 4));
    }

    /// <summary>Equal events (ids and names included, and the ids the tables handed out), lines and errors.</summary>
    private static void AssertSameLog(ParsedLog expected, ParsedLog actual)
    {
        Assert.Equal(expected.Errors, actual.Errors);
        Assert.Equal(expected.InvalidLines, actual.InvalidLines);
        Assert.Equal(expected.Lines, actual.Lines);
        Assert.Equal(expected.Events, actual.Events);
        Assert.Equal(Enumerable.Range(0, expected.Events.Count).Select(expected.IdOf), Enumerable.Range(0, actual.Events.Count).Select(actual.IdOf));
        foreach (var (a, b) in new[] { (expected.Users, actual.Users), (expected.Devices, actual.Devices), (expected.Apps, actual.Apps) })
        {
            Assert.Equal(a.Count, b.Count);
            Assert.Equal(Enumerable.Range(1, a.Count).Select(a.NameOf), Enumerable.Range(1, b.Count).Select(b.NameOf));
        }
    }
}
