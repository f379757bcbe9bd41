using System.CommandLine;
using System.Security.Cryptography;
using Tally.Cli.Generation;
using Tally.Metering;

namespace Tally.Cli.Tests;

public sealed class GenerateTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-generate-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("csv")]
    [InlineData("jsonl")]
    public void Generate_SameOptionsTwice_ByteIdenticalFiles(string format)
    {
        var first = Run("--events", "20000", "--users", "500", "--apps", "40", "--seed", "7", "--format", format);
        var second = Run("--events", "20000", "--users", "500", "--apps", "40", "--seed", "7", "--format", format);

        Assert.Equal(SHA256.HashData(first), SHA256.HashData(second));
    }

    [Fact]
    public void ExampleLog_DocumentedCommand_RegeneratesItByteForByte()
    {
        // The command docs/meter.md shows, writing to this test's folder instead of examples/.
        var page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "meter.md"));
        var line = page.Split('\n').Single(l => l.StartsWith("./tally generate ", StringComparison.Ordinal) && l.Contains("examples/events.csv", StringComparison.Ordinal));
        var args = line["./tally ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(a => a == "examples/events.csv" ? Path.Combine(_folder, "events.csv") : a).ToArray();

        var run = TallyProcess.Run(null, args);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Repository.Root, "examples", "events.csv")), File.ReadAllBytes(Path.Combine(_folder, "events.csv")));
    }

    [Fact]
    public void Generate_TwoMonths_FillsBothInOrder()
    {
        var lines = Lines(Run("--events", "3000", "--users", "20", "--month", "2026-12", "--months", "2"));

        var months = lines.Skip(1).Select(l => l[..7]).Distinct().ToList();
        Assert.Equal(["2026-12", "2027-01"], months);
    }

    [Fact]
    public void Generate_DifferentSeeds_DifferentFiles()
    {
        var first = Run("--events", "2000", "--seed", "1");
        var second = Run("--events", "2000", "--seed", "2");

        Assert.NotEqual(SHA256.HashData(first), SHA256.HashData(second));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(999)]
    [InlineData(12_345)]
    public void Generate_EventsOption_WritesExactlyThatManyLines(int count)
    {
        var lines = Lines(Run("--events", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--users", "300"));

        Assert.Equal("time,user,device,app,action,id", lines[0]);
        Assert.Equal(count, lines.Length - 1);
    }

    [Fact]
    public void Generate_Csv_EveryLineIsAValidEventInTimeOrderWithUniqueIds()
    {
        var lines = Lines(Run("--events", "30000", "--users", "800", "--apps", "60", "--month", "2026-02"));
        var users = new SymbolTable();
        var devices = new SymbolTable();
        var apps = new SymbolTable();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var previous = long.MinValue;
        var actions = new HashSet<MeterAction>();
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            Assert.Equal(6, f.Length);
            var parsed = EventValidation.Validate(new EventFields(f[0], f[1], f[2], f[3], f[4], f[5]), timeRequired: true, users, devices, apps);
            Assert.Null(parsed.Error);
            var e = parsed.Value;
            Assert.True(e.TimeTicks >= previous, $"out of order: {line}");
            Assert.Equal(new Period(2026, 2), new Period(e.Time.Year, e.Time.Month));
            Assert.EndsWith("Z", f[0], StringComparison.Ordinal);
            Assert.True(ids.Add(f[5]), $"duplicate id {f[5]}");
            previous = e.TimeTicks;
            actions.Add(e.Action);
            if (e.Action == MeterAction.ScheduledReload)
            {
                Assert.Equal("", f[1]);
                Assert.Equal("", f[2]);
            }
        }
        Assert.Equal("e0000001", lines[1].Split(',')[5]);
        // The mix: sessions open, engage, idle with heartbeats, close and log out; some reloads; a few authoring actions.
        Assert.Superset(new HashSet<MeterAction>
        {
            MeterAction.OpenApp, MeterAction.Select, MeterAction.Navigate, MeterAction.Heartbeat, MeterAction.CloseApp,
            MeterAction.Logout, MeterAction.ScheduledReload, MeterAction.CreateSheet,
        }, actions);
        Assert.InRange(apps.Count, 30, 60);
    }

    [Fact]
    public void Generate_Month_MostActivityInWeekdayWorkingHours()
    {
        var month = new EventGenerator(new GeneratorOptions { Events = 50_000, Users = 1000 }).Generate();
        var working = month.Events.Count(e =>
        {
            var t = new DateTime(month.TicksOf(e), DateTimeKind.Utc);
            return t.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday) && t.Hour is >= 8 and < 18;
        });

        Assert.InRange(working / (double)month.Events.Length, 0.7, 1.0);
    }

    [Fact]
    public void Generate_Users_EachHasOneToThreeDevices()
    {
        var month = new EventGenerator(new GeneratorOptions { Events = 100_000, Users = 200 }).Generate();
        var devicesByUser = month.Events.Where(e => e.User != 0).GroupBy(e => e.User).Select(g => g.Select(e => e.Device).Distinct().Count()).ToList();

        Assert.All(devicesByUser, n => Assert.InRange(n, 1, 3));
        Assert.Contains(devicesByUser, n => n > 1);
    }

    [Fact]
    public void Generate_Jsonl_SameFieldsAsCsv()
    {
        var csv = Lines(Run("--events", "500", "--users", "50"));
        var json = Lines(Run("--events", "500", "--users", "50", "--format", "jsonl"));

        Assert.Equal(csv.Length - 1, json.Length);
        for (var i = 0; i < json.Length; i++)
        {
            var f = csv[i + 1].Split(',');
            using var doc = System.Text.Json.JsonDocument.Parse(json[i]);
            string Field(string name) => doc.RootElement.TryGetProperty(name, out var p) ? p.GetString()! : "";
            Assert.Equal(f, new[] { Field("time"), Field("user"), Field("device"), Field("app"), Field("action"), Field("id") });
        }
    }

    [Theory]
    [InlineData("--month", "2026-13")]
    [InlineData("--format", "xml")]
    [InlineData("--users", "0")]
    public void Generate_BadOption_NonZeroExit(string option, string value)
    {
        var root = new RootCommand { GenerateCommand.Create() };
        var exit = root.Parse(["generate", "--out", Path.Combine(_folder, "bad.csv"), option, value]).Invoke(
            new InvocationConfiguration { Error = TextWriter.Null, Output = TextWriter.Null });

        Assert.NotEqual(0, exit);
    }

    private byte[] Run(params string[] args)
    {
        var path = Path.Combine(_folder, Guid.NewGuid().ToString("N"));
        var root = new RootCommand { GenerateCommand.Create() };
        var exit = root.Parse(["generate", "--out", path, .. args]).Invoke(new InvocationConfiguration { Error = TextWriter.Null });
        Assert.Equal(0, exit);
        return File.ReadAllBytes(path);
    }

    private static string[] Lines(byte[] content) =>
        System.Text.Encoding.UTF8.GetString(content).Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
