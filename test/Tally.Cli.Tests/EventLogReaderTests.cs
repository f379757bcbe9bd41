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
}
