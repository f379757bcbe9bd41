using System.Text.Json;

namespace Tally.Cli.Tests;

public sealed class MeterCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-meter-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private const string Header = "time,user,device,app,action,id";

    /// <summary>
    /// alice works in sales and hr on her laptop (one shared device unit, then a second), a reload of sales finds
    /// her inside a unit, bob tries to edit a sheet (not permitted) and an event is sent twice.
    /// </summary>
    private static readonly string[] Session =
    [
        "2026-03-02T09:00:00Z,alice,laptop,sales,open-app,e1",
        "2026-03-02T09:03:00Z,alice,laptop,hr,open-app,e2",
        "2026-03-02T09:07:00Z,alice,laptop,sales,select,e3",
        "2026-03-02T09:07:00Z,alice,laptop,sales,select,e3",
        "2026-03-02T09:10:00Z,,,sales,scheduled-reload,e4",
        "2026-03-02T09:20:00Z,bob,,sales,create-sheet,e5",
    ];

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        return path;
    }

    private static JsonElement Json(ChildProcess.Result result)
    {
        Assert.True(result.ExitCode == 0, result.Stderr);
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    [Fact]
    public void Meter_CsvToJson_ReportsTotalsPeriodsUsersAppsAndUnits()
    {
        var path = Write("events.csv", [Header, .. Session]);
        var json = Json(TallyProcess.Run(null, "meter", path, "--format", "json", "--list-units", "--pool-minutes", "100"));

        var totals = json.GetProperty("totals");
        Assert.Equal(6, totals.GetProperty("events").GetInt32());
        Assert.Equal(2, totals.GetProperty("units").GetInt32());
        Assert.Equal(12, totals.GetProperty("minutes").GetInt32());
        Assert.Equal(1, totals.GetProperty("deniedEvents").GetInt32());
        Assert.Equal(1, totals.GetProperty("duplicateEvents").GetInt32());
        Assert.Equal(0, totals.GetProperty("invalidLines").GetInt32());

        var period = Assert.Single(json.GetProperty("periods").EnumerateArray());
        Assert.Equal("2026-03", period.GetProperty("period").GetString());
        Assert.Equal(100, period.GetProperty("includedMinutes").GetInt32());
        Assert.Equal(12, period.GetProperty("consumedMinutes").GetInt32());
        Assert.Equal(0, period.GetProperty("overageMinutes").GetInt32());
        Assert.Equal(2, period.GetProperty("units").GetInt32());
        Assert.Equal(1, period.GetProperty("deniedEvents").GetInt32());

        var alice = json.GetProperty("users").EnumerateArray().Single(u => u.GetProperty("user").GetString() == "alice");
        Assert.Equal(2, alice.GetProperty("units").GetInt32());
        Assert.Equal(12, alice.GetProperty("minutes").GetInt32());

        // Device mode: the first unit served sales and hr, so it counts once for each.
        var apps = json.GetProperty("apps").EnumerateArray().ToDictionary(a => a.GetProperty("app").GetString()!, a => a.GetProperty("units").GetInt32());
        Assert.Equal(2, apps["sales"]);
        Assert.Equal(1, apps["hr"]);

        var units = json.GetProperty("units").EnumerateArray().ToList();
        Assert.Equal(2, units.Count);
        Assert.Equal("alice", units[0].GetProperty("user").GetString());
        Assert.Equal("device:laptop", units[0].GetProperty("key").GetString());
        Assert.Equal("2026-03-02T09:00:00Z", units[0].GetProperty("start").GetString());
        Assert.Equal("2026-03-02T09:06:00Z", units[0].GetProperty("end").GetString());
        Assert.Equal("2026-03", units[0].GetProperty("period").GetString());
        Assert.Equal("open-app", units[0].GetProperty("trigger").GetString());
        Assert.Equal(["sales", "hr"], units[0].GetProperty("apps").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("select", units[1].GetProperty("trigger").GetString());
    }

    [Fact]
    public void Meter_AppMode_CountsEachOpenApp()
    {
        var path = Write("events.csv", [Header, .. Session]);
        var json = Json(TallyProcess.Run(null, "meter", path, "--format", "json", "--mode", "app"));
        // sales at 09:00 and 09:07 (the reload at 09:10 is covered), hr at 09:03.
        Assert.Equal(3, json.GetProperty("totals").GetProperty("units").GetInt32());
        Assert.Equal(JsonValueKind.Null, Assert.Single(json.GetProperty("periods").EnumerateArray()).GetProperty("includedMinutes").ValueKind);
        Assert.False(json.TryGetProperty("units", out _));
    }

    [Fact]
    public void Meter_JsonLinesAndCsv_GiveTheSameReport()
    {
        var csv = Write("events.csv", [Header, .. Session]);
        var jsonl = Write("events.jsonl", [.. Session.Select(line =>
        {
            var f = line.Split(',');
            return JsonSerializer.Serialize(new { time = f[0], user = f[1], device = f[2], app = f[3], action = f[4], id = f[5], extra = 1 });
        })]);
        var fromCsv = TallyProcess.Run(null, "meter", csv, "--format", "json", "--list-units");
        var fromJsonl = TallyProcess.Run(null, "meter", jsonl, "--format", "json", "--list-units");
        Assert.Equal(0, fromJsonl.ExitCode);
        Assert.Equal(fromCsv.Stdout, fromJsonl.Stdout);
    }

    [Fact]
    public void Meter_Stdin_ReadsWithInputFormat()
    {
        var stdin = string.Join('\n', [Header, .. Session]);
        var json = Json(TallyProcess.Run(stdin, "meter", "-", "--input-format", "csv", "--format", "json"));
        Assert.Equal(2, json.GetProperty("totals").GetProperty("units").GetInt32());
    }

    [Fact]
    public void Meter_StdinWithoutInputFormat_IsAnOptionError()
    {
        var result = TallyProcess.Run("", "meter", "-");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--input-format", result.Stderr);
    }

    [Fact]
    public void Meter_OutOfOrderFile_MetersInTimeOrder()
    {
        var sorted = Write("sorted.csv", [Header, .. Session]);
        var reversed = Write("reversed.csv", [Header, .. Session.Reverse()]);
        Assert.Equal(
            Json(TallyProcess.Run(null, "meter", sorted, "--format", "json", "--list-units")).GetProperty("units").ToString(),
            Json(TallyProcess.Run(null, "meter", reversed, "--format", "json", "--list-units")).GetProperty("units").ToString());
    }

    [Fact]
    public void Meter_ColumnsFoundByName_IdOptionalAndExtraColumnsIgnored()
    {
        var path = Write("events.csv",
            "action,app,note,user,time",
            "open-app,sales,hello,alice,2026-03-02T09:00:00Z",
            "select,sales,,alice,2026-03-02T09:06:00Z");
        Assert.Equal(2, Json(TallyProcess.Run(null, "meter", path, "--format", "json")).GetProperty("totals").GetProperty("units").GetInt32());
    }

    [Fact]
    public void Meter_QuotedCsvFields_AreUnquoted()
    {
        var path = Write("events.csv", Header, "2026-03-02T09:00:00Z,\"Smith, Ann\",,\"Sales \"\"EU\"\"\",open-app,1");
        var json = Json(TallyProcess.Run(null, "meter", path, "--format", "json"));
        Assert.Equal("Smith, Ann", json.GetProperty("users")[0].GetProperty("user").GetString());
        Assert.Equal("Sales \"EU\"", json.GetProperty("apps")[0].GetProperty("app").GetString());
    }

    [Fact]
    public void Meter_PacksAndCappedOverage_LockOutAndReportOverage()
    {
        var lines = Enumerable.Range(0, 5).Select(i => $"2026-03-02T09:00:00Z,u{i},,sales,open-app,e{i}");
        var path = Write("events.csv", [Header, .. lines]);
        var json = Json(TallyProcess.Run(null, "meter", path, "--format", "json", "--packs", "2", "--pack-minutes", "6", "--overage", "12"));
        var period = json.GetProperty("periods")[0];
        Assert.Equal(12, period.GetProperty("includedMinutes").GetInt32());
        Assert.Equal(24, period.GetProperty("consumedMinutes").GetInt32());
        Assert.Equal(12, period.GetProperty("overageMinutes").GetInt32());
        Assert.Equal(2, period.GetProperty("overagePacks").GetInt32());
        Assert.Equal(1, period.GetProperty("deniedEvents").GetInt32());
    }

    [Fact]
    public void Meter_TimeZone_ShiftsThePeriod()
    {
        var path = Write("events.csv", Header, "2026-02-28T23:30:00Z,alice,,sales,open-app,1");
        var json = Json(TallyProcess.Run(null, "meter", path, "--format", "json", "--timezone", "Europe/Paris"));
        Assert.Equal("2026-03", json.GetProperty("periods")[0].GetProperty("period").GetString());
        Assert.Equal("2026-02-28T23:00:00Z", json.GetProperty("periods")[0].GetProperty("start").GetString());
    }

    [Fact]
    public void Meter_SessionTimeoutOption_EndsConnectionsSooner()
    {
        var path = Write("events.csv", Header,
            "2026-03-02T09:00:00Z,alice,,sales,open-app,1",
            "2026-03-02T09:12:00Z,,,sales,scheduled-reload,2");
        var json = Json(TallyProcess.Run(null, "meter", path, "--format", "json", "--session-timeout", "10"));
        Assert.Equal(1, json.GetProperty("totals").GetProperty("units").GetInt32());
    }

    [Fact]
    public void Meter_CsvFormat_ListsUsersOrUnits()
    {
        var path = Write("events.csv", [Header, .. Session]);
        var users = TallyProcess.Run(null, "meter", path, "--format", "csv");
        Assert.Equal(0, users.ExitCode);
        Assert.StartsWith("user,units,minutes,deniedEvents,idleReloadUnits,idleReloadMinutes\n", users.Stdout.ReplaceLineEndings("\n"));
        Assert.Contains("alice,2,12,0,0,0", users.Stdout);
        var units = TallyProcess.Run(null, "meter", path, "--format", "csv", "--list-units");
        Assert.Contains("alice,device:laptop,2026-03-02T09:00:00Z,2026-03-02T09:06:00Z,2026-03,open-app,6,sales;hr", units.Stdout);
    }

    [Fact]
    public void Meter_CsvFormat_NamesThatStartFormulas_WrittenAsQuotedText()
    {
        // Each user opens the app of the same name at its own minute. Names starting with TAB or CR never get this far:
        // control characters are refused at input (R12); CsvExportTests covers those cells in the writer itself.
        string[] names = ["=1+1", "-2+3", "@SUM(A1)", "+1", "=HYPERLINK(\"http://x\",\"a,b\")", "-@x"];
        var path = Write("events.jsonl", [.. names.Select((n, i) => JsonSerializer.Serialize(new
        {
            time = $"2026-03-02T09:{i:D2}:00Z", user = n, app = n, action = "open-app", id = $"e{i}",
        }))]);
        string Cell(string name) => "\"'" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

        var users = TallyProcess.Run(null, "meter", path, "--format", "csv");
        Assert.True(users.ExitCode == 0, users.Stderr);
        // Every user has one 6-minute unit; ties keep the order of first appearance.
        Assert.Equal(["user,units,minutes,deniedEvents,idleReloadUnits,idleReloadMinutes", .. names.Select(n => $"{Cell(n)},1,6,0,0,0"), ""], users.Stdout.Split("\r\n"));

        var units = TallyProcess.Run(null, "meter", path, "--format", "csv", "--list-units");
        Assert.True(units.ExitCode == 0, units.Stderr);
        var lines = units.Stdout.Split("\r\n");
        Assert.Equal("user,key,start,end,period,trigger,minutes,apps", lines[0]);
        Assert.Equal(names.Length + 2, lines.Length);
        for (var i = 0; i < names.Length; i++)
        {
            // The key (device:(default)) is Tally's own text and starts with a letter; the apps cell is the app's name.
            Assert.Equal($"{Cell(names[i])},device:(default),2026-03-02T09:{i:D2}:00Z,2026-03-02T09:{i + 6:D2}:00Z,2026-03,open-app,6,{Cell(names[i])}",
                lines[i + 1]);
        }
    }

    [Fact]
    public void Meter_TableFormat_ShowsTotalsAndTopUsers()
    {
        var path = Write("events.csv", [Header, .. Session]);
        var result = TallyProcess.Run(null, "meter", path);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Totals", result.Stdout);
        Assert.Contains("alice", result.Stdout);
        Assert.Contains("metered only", result.Stdout);
    }

    [Theory]
    [InlineData("2026-03-02T09:00:00,alice,,sales,open-app,1", "time")]
    [InlineData("not-a-time,alice,,sales,open-app,1", "time")]
    [InlineData("2026-03-02T09:00:00Z,alice,,sales,dance,1", "unknown action 'dance'")]
    [InlineData("2026-03-02T09:00:00Z,,,sales,open-app,1", "user: is required")]
    [InlineData("2026-03-02T09:00:00Z,alice,,,open-app,1", "app: is required")]
    [InlineData("2026-03-02T09:00:00Z,alice,,sales,open-app", "expected 6 fields")]
    [InlineData("2026-03-02T09:00:00Z,alice,,\"sales,open-app,1", "unterminated quoted field")]
    public void Meter_BadLine_FailsWithLineNumberAndReason_NothingOnStdout(string badLine, string reason)
    {
        var path = Write("events.csv", Header, "2026-03-02T09:00:00Z,bob,,sales,open-app,0", badLine, "2026-03-02T09:01:00Z,bob,,sales,select,2");
        var result = TallyProcess.Run(null, "meter", path, "--format", "json");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("line 3:", result.Stderr);
        Assert.Contains(reason, result.Stderr);
    }

    [Fact]
    public void Meter_OversizedField_IsRejected()
    {
        var path = Write("events.csv", Header, $"2026-03-02T09:00:00Z,{new string('u', 300)},,sales,open-app,1");
        var result = TallyProcess.Run(null, "meter", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("line 2: user: is 300 characters", result.Stderr);
    }

    [Fact]
    public void Meter_ManyBadLines_ListsEveryLineNumber()
    {
        var path = Write("events.csv", Header, "x,a,,s,open-app,1", "2026-03-02T09:00:00Z,a,,s,open-app,2", "y,a,,s,open-app,3", "z,a,,s,open-app,4");
        var result = TallyProcess.Run(null, "meter", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("line 2:", result.Stderr);
        Assert.Contains("line 4:", result.Stderr);
        Assert.Contains("line 5:", result.Stderr);
        Assert.DoesNotContain("line 3:", result.Stderr);
        Assert.Contains("3 bad line(s)", result.Stderr);
    }

    [Fact]
    public void Meter_SkipInvalid_MetersTheRestAndCountsSkippedLines()
    {
        var path = Write("events.csv", Header, "x,a,,s,open-app,1", "2026-03-02T09:00:00Z,a,,s,open-app,2", "y,a,,s,bogus,3");
        var result = TallyProcess.Run(null, "meter", path, "--format", "json", "--skip-invalid");
        var totals = Json(result).GetProperty("totals");
        Assert.Equal(2, totals.GetProperty("invalidLines").GetInt32());
        Assert.Equal(1, totals.GetProperty("events").GetInt32());
        Assert.Equal(1, totals.GetProperty("units").GetInt32());
        Assert.Contains("line 2:", result.Stderr);
    }

    [Theory]
    [InlineData("{\"time\":\"2026-03-02T09:00:00Z\",\"user\":\"a\",\"app\":\"s\",\"action\":\"open-app\"", "invalid JSON")]
    [InlineData("[1,2]", "expected a JSON object")]
    [InlineData("{\"time\":\"2026-03-02T09:00:00Z\",\"user\":7,\"app\":\"s\",\"action\":\"open-app\"}", "user: must be a string")]
    [InlineData("{\"time\":\"2026-03-02T09:00:00Z\",\"user\":\"a\",\"app\":\"s\"}", "action: is required")]
    [InlineData("{\"a\":1} {\"b\":2}", "is invalid after a single JSON value")]
    public void Meter_BadJsonLine_FailsWithLineNumberAndReason(string badLine, string reason)
    {
        var path = Write("events.jsonl", "{\"time\":\"2026-03-02T09:00:00Z\",\"user\":\"a\",\"app\":\"s\",\"action\":\"open-app\"}", badLine);
        var result = TallyProcess.Run(null, "meter", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("line 2:", result.Stderr);
        Assert.Contains(reason, result.Stderr);
    }

    [Theory]
    [InlineData("", "the file is empty")]
    [InlineData("user,app,action,id", "missing column 'time'")]
    [InlineData("time,user,app,app,action", "column 'app' appears twice")]
    public void Meter_BadHeader_FailsOnLineOne(string header, string reason)
    {
        var path = Path.Combine(_folder, "events.csv");
        File.WriteAllText(path, header.Length == 0 ? "" : header + "\n2026-03-02T09:00:00Z,a,s,open-app,1\n");
        var result = TallyProcess.Run(null, "meter", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("line 1:", result.Stderr);
        Assert.Contains(reason, result.Stderr);
    }

    [Theory]
    [InlineData("--mode", "seat", "--mode must be device or app")]
    [InlineData("--timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'")]
    [InlineData("--overage", "lots", "--overage must be none, unlimited or a number")]
    [InlineData("--format", "xml", "--format must be table, json or csv")]
    [InlineData("--unit-minutes", "0", "unit minutes must be between")]
    [InlineData("--quiet-minutes", "0", "--quiet-minutes: quiet time must be between 1 and 10080 minutes, not 0")]
    [InlineData("--quiet-minutes", "10081", "--quiet-minutes: quiet time must be between 1 and 10080 minutes, not 10081")]
    [InlineData("--close-idle-after", "0", "--close-idle-after: close-idle-after must be between 1 and 10080 minutes, not '0'")]
    [InlineData("--close-idle-after", "8d", "--close-idle-after: close-idle-after must be between 1 and 10080 minutes, not '8d'")]
    [InlineData("--close-idle-after", "99999999999999999h", "--close-idle-after: close-idle-after must be between")]
    [InlineData("--close-idle-after", "30s", "--close-idle-after: '30s' is not a duration; give minutes (45) or a number with m, h or d")]
    [InlineData("--close-idle-after", "soon", "--close-idle-after: 'soon' is not a duration")]
    [InlineData("--close-idle-after", "0.5h", "--close-idle-after: '0.5h' is not a duration")]
    [InlineData("--close-idle-after", "-5m", "--close-idle-after: '-5m' is not a duration")]
    public void Meter_BadOption_ExitsOneWithReason(string option, string value, string reason)
    {
        var path = Write("events.csv", [Header, .. Session]);
        var result = TallyProcess.Run(null, "meter", path, option, value);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(reason, result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void Meter_PoolMinutesAndPacksTogether_IsRefused()
    {
        var path = Write("events.csv", [Header, .. Session]);
        var result = TallyProcess.Run(null, "meter", path, "--packs", "1", "--pool-minutes", "10");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("either --pool-minutes or --packs", result.Stderr);
    }

    [Fact]
    public void Meter_MissingFile_SaysSo()
    {
        var result = TallyProcess.Run(null, "meter", Path.Combine(_folder, "nope.csv"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot read", result.Stderr);
    }

    [Fact]
    public void Meter_UnknownExtension_AsksForInputFormat()
    {
        var path = Write("events.txt", [Header, .. Session]);
        var result = TallyProcess.Run(null, "meter", path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--input-format", result.Stderr);
    }

    [Fact]
    public void Meter_NarrowConsole_TitlesOnOneLineNumbersRightAligned()
    {
        var run = TallyProcess.Run(null, new Dictionary<string, string> { ["COLUMNS"] = "40" },
            "meter", Path.Combine(Repository.Root, "examples", "events.csv"), "--top", "3");

        Assert.True(run.ExitCode == 0, run.Stderr);
        var lines = run.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains("Top apps (3 of 6)", lines);
        Assert.Contains("Top users (3 of 12)", lines);
        Assert.All(lines, l => Assert.True(l.Length <= 40, $"wider than 40: '{l}'"));
        // The app table's rows: the name left, the units right against the border.
        var appRows = lines.SkipWhile(l => l != "Top apps (3 of 6)").Where(l => l.StartsWith("│ app-", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, appRows.Count);
        Assert.All(appRows, r => Assert.Matches(@"│\s+[0-9,]+ │$", r));
        Assert.Single(appRows.Select(r => r.Length).Distinct());
    }
}
