using System.CommandLine;
using System.Text.Json;

namespace Tally.Cli.Tests;

/// <summary>
/// R14 in <c>tally meter</c> and <c>tally report</c>: hand-computed logs whose idle-reload units (scheduled reloads
/// charging users who did not engage on the key in the quiet time before) and close-idle savings are known exactly.
/// </summary>
public sealed class MeterWasteTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-waste-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private const string Header = "time,user,device,app,action,id";

    /// <summary>
    /// alice opens sales at 09:00 and then only sends heartbeats (presence keeps the session, R6, but is no engagement):
    /// the reloads at 10:00, 11:00 and 12:00 each start a 6-minute unit for her, all idle. bob engages every 10 minutes
    /// (09:02 … 11:52), so each reload finds his last engagement 8 minutes old: his reload units are never idle.
    /// alice: 1 + 3 units, 24 minutes. bob: 18 engagements and 3 reload units, but the reload units at 10:00 and 11:00
    /// cover his selects at 10:02 and 11:02, so 19 units, 114 minutes. The period: 138 minutes, 18 of them idle.
    /// </summary>
    private static IEnumerable<string> IdleAndActive()
    {
        var day = new DateTime(2026, 3, 2, 9, 0, 0, DateTimeKind.Utc);
        string At(int minutes) => day.AddMinutes(minutes).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        var n = 0;
        yield return $"{At(0)},alice,laptop,sales,open-app,e{++n}";
        for (var m = 10; m <= 170; m += 10)
        {
            yield return $"{At(m)},alice,laptop,,heartbeat,e{++n}";
        }
        yield return $"{At(2)},bob,desk,sales,open-app,e{++n}";
        for (var m = 12; m <= 172; m += 10)
        {
            yield return $"{At(m)},bob,desk,sales,select,e{++n}";
        }
        foreach (var hour in new[] { 60, 120, 180 })
        {
            yield return $"{At(hour)},,,sales,scheduled-reload,e{++n}";
        }
    }

    private string Write(IEnumerable<string> lines)
    {
        var path = Path.Combine(_folder, $"events-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(path, [Header, .. lines]);
        return path;
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var root = new RootCommand { MeterCommand.Create(), ReportCommand.Create() };
        var code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private static JsonElement Json(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == 0, stderr);
        return JsonDocument.Parse(stdout).RootElement;
    }

    private static JsonElement Waste(JsonElement meter) => Assert.Single(meter.GetProperty("periods").EnumerateArray()).GetProperty("waste");

    private static Dictionary<string, JsonElement> Rows(JsonElement waste, string table, string key) =>
        waste.GetProperty(table).EnumerateArray().ToDictionary(r => r.GetProperty(key).GetString()!);

    [Fact]
    public void Meter_IdleUserChargedByHourlyReloads_ActiveUserNever()
    {
        var waste = Waste(Json("meter", Write(IdleAndActive()), "--format", "json", "--pool-minutes", "300"));

        Assert.Equal("2026-03", waste.GetProperty("period").GetString());
        Assert.Equal(30, waste.GetProperty("quietMinutes").GetInt32());
        Assert.Equal(6, waste.GetProperty("reloadUnits").GetInt64());
        Assert.Equal(36, waste.GetProperty("reloadMinutes").GetInt64());
        Assert.Equal(3, waste.GetProperty("idleReloadUnits").GetInt64());
        Assert.Equal(18, waste.GetProperty("idleReloadMinutes").GetInt64());
        Assert.Equal(138, waste.GetProperty("consumedMinutes").GetInt64());
        Assert.Equal(300, waste.GetProperty("includedMinutes").GetInt64());
        Assert.Equal(0.1304, waste.GetProperty("shareOfConsumed").GetDouble(), 9); // 18 of 138 minutes, to four decimals as the API writes shares
        Assert.Equal(0.06, waste.GetProperty("shareOfIncluded").GetDouble(), 9);

        // Only users and apps with an idle-reload unit are listed: bob's reloads were all while he worked.
        var alice = Assert.Single(waste.GetProperty("users").EnumerateArray());
        Assert.Equal("alice", alice.GetProperty("user").GetString());
        Assert.Equal((3, 18, 3, 18), (alice.GetProperty("idleReloadUnits").GetInt64(), alice.GetProperty("idleReloadMinutes").GetInt64(),
            alice.GetProperty("reloadUnits").GetInt64(), alice.GetProperty("reloadMinutes").GetInt64()));
        Assert.Equal(1, waste.GetProperty("userCount").GetInt32());
        var sales = Assert.Single(waste.GetProperty("apps").EnumerateArray());
        Assert.Equal(("sales", 3, 18, 6, 36, 1), (sales.GetProperty("app").GetString(), sales.GetProperty("idleReloadUnits").GetInt64(),
            sales.GetProperty("idleReloadMinutes").GetInt64(), sales.GetProperty("reloadUnits").GetInt64(),
            sales.GetProperty("reloadMinutes").GetInt64(), sales.GetProperty("idleUsers").GetInt64()));
        Assert.Equal(20, waste.GetProperty("limit").GetInt32());

        // The hours of day, in the period's zone: one idle unit at each of 10, 11 and 12.
        var hours = waste.GetProperty("hours").EnumerateArray().ToList();
        Assert.Equal(24, hours.Count);
        Assert.Equal([10, 11, 12], hours.Where(h => h.GetProperty("idleReloadUnits").GetInt64() > 0).Select(h => h.GetProperty("hour").GetInt32()));
        Assert.All(hours.Where(h => h.GetProperty("reloadUnits").GetInt64() > 0), h => Assert.Equal(12, h.GetProperty("reloadMinutes").GetInt64()));
    }

    [Fact]
    public void Meter_Json_WasteIsTheServersContract()
    {
        var text = Run("meter", Write(IdleAndActive()), "--format", "json", "--timezone", "Europe/Paris").Out;
        var waste = Waste(JsonDocument.Parse(text).RootElement);
        var report = waste.Deserialize<Tally.Contract.WasteReport>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal("Europe/Paris", report.TimeZone);
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 23, 0, 0, TimeSpan.Zero), report.Start);
        Assert.Null(report.IncludedMinutes);
        Assert.Null(report.ShareOfIncluded);
        // 10:00 UTC is 11:00 in Paris in March (before the clocks change): hours are local.
        Assert.Equal([11, 12, 13], report.Hours.Where(h => h.IdleReloadUnits > 0).Select(h => h.Hour));
        // Re-serialised, the contract gives back every member the CLI wrote: no field of its own, none missing.
        Assert.Equal(waste.EnumerateObject().Select(p => p.Name),
            JsonDocument.Parse(JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerDefaults.Web))).RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Meter_DeviceMode_OnlyTheIdleDevicesUnitIsIdle()
    {
        // alice is connected to sales on both devices: only heartbeats from the laptop, selects every 10 minutes on the desk.
        string[] lines =
        [
            "2026-03-02T09:00:00Z,alice,laptop,sales,open-app,a1",
            "2026-03-02T09:15:00Z,alice,laptop,,heartbeat,a2",
            "2026-03-02T09:30:00Z,alice,laptop,,heartbeat,a3",
            "2026-03-02T09:45:00Z,alice,laptop,,heartbeat,a4",
            "2026-03-02T09:00:00Z,alice,desk,sales,open-app,b1",
            .. Enumerable.Range(1, 5).Select(i => $"2026-03-02T09:{i * 10}:00Z,alice,desk,sales,select,b{i + 1}"),
            "2026-03-02T10:00:00Z,,,sales,scheduled-reload,r1",
        ];
        var waste = Waste(Json("meter", Write(lines), "--format", "json"));
        Assert.Equal(2, waste.GetProperty("reloadUnits").GetInt64());
        Assert.Equal(1, waste.GetProperty("idleReloadUnits").GetInt64());
        Assert.Equal(6, waste.GetProperty("idleReloadMinutes").GetInt64());

        // In app mode both devices are one key, (alice, sales), engaged from the desk: nothing idle.
        var appMode = Waste(Json("meter", Write(lines), "--format", "json", "--mode", "app"));
        Assert.Equal(0, appMode.GetProperty("idleReloadUnits").GetInt64());
    }

    /// <summary>carol's reload comes exactly 30 minutes after her engagement, dave's 29 minutes after.</summary>
    private static readonly string[] QuietEdge =
    [
        "2026-03-02T09:00:00Z,carol,c1,hr,open-app,c1",
        "2026-03-02T09:10:00Z,carol,c1,,heartbeat,c2",
        "2026-03-02T09:20:00Z,carol,c1,,heartbeat,c3",
        "2026-03-02T09:30:00Z,,,hr,scheduled-reload,c4",
        "2026-03-02T09:00:00Z,dave,d1,fin,open-app,d1",
        "2026-03-02T09:10:00Z,dave,d1,,heartbeat,d2",
        "2026-03-02T09:20:00Z,dave,d1,,heartbeat,d3",
        "2026-03-02T09:29:00Z,,,fin,scheduled-reload,d4",
    ];

    [Fact]
    public void Meter_EngagementExactlyTheQuietTimeBefore_IsOutsideIt()
    {
        var waste = Waste(Json("meter", Write(QuietEdge), "--format", "json"));
        Assert.Equal(2, waste.GetProperty("reloadUnits").GetInt64());
        Assert.Equal(["carol"], waste.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("user").GetString()));

        // A 29-minute quiet time puts dave's engagement exactly at its edge too.
        var shorter = Waste(Json("meter", Write(QuietEdge), "--format", "json", "--quiet-minutes", "29"));
        Assert.Equal(29, shorter.GetProperty("quietMinutes").GetInt32());
        Assert.Equal(["carol", "dave"], shorter.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("user").GetString()).Order());
    }

    [Theory]
    [InlineData("30m")]
    [InlineData("30")]
    public void Meter_CloseIdleAfter_SavesTheIdleReloadMinutesOnly(string after)
    {
        var json = Json("meter", Write(IdleAndActive()), "--format", "json", "--close-idle-after", after);
        var closeIdle = json.GetProperty("closeIdle");
        Assert.Equal(30, closeIdle.GetProperty("afterMinutes").GetInt32());
        var period = Assert.Single(closeIdle.GetProperty("periods").EnumerateArray());
        Assert.Equal(("2026-03", 138, 120, 18, 18), (period.GetProperty("period").GetString(), period.GetProperty("consumedMinutes").GetInt64(),
            period.GetProperty("withPolicyMinutes").GetInt64(), period.GetProperty("savedMinutes").GetInt64(), period.GetProperty("idleReloadMinutes").GetInt64()));
        var total = closeIdle.GetProperty("total");
        Assert.Equal(("total", 18), (total.GetProperty("period").GetString(), total.GetProperty("savedMinutes").GetInt64()));
        // The as-is figures are untouched by the what-if.
        Assert.Equal(138, json.GetProperty("totals").GetProperty("minutes").GetInt64());

        // Per user in CSV: alice saves her 18 idle minutes, bob nothing.
        var csv = Run("meter", Write(IdleAndActive()), "--format", "csv", "--close-idle-after", after).Out.ReplaceLineEndings("\n");
        Assert.StartsWith("user,units,minutes,deniedEvents,idleReloadUnits,idleReloadMinutes,withPolicyMinutes,savedMinutes\n", csv);
        Assert.Contains("\nalice,4,24,0,3,18,6,18\n", csv);
        Assert.Contains("\nbob,19,114,0,0,0,114,0\n", csv);
    }

    [Fact]
    public void Meter_CloseIdleAfter_ReadsStandardInputOnce()
    {
        // The what-if replays the parsed events, so a log piped in is metered twice without being read twice.
        var path = Write(IdleAndActive());
        var result = TallyProcess.Run(File.ReadAllText(path), "meter", "-", "--input-format", "csv", "--format", "json", "--close-idle-after", "1h");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var closeIdle = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("closeIdle");
        // Closing after an hour: alice's connection ends at 10:00 exactly (as a session timeout does), before the first reload.
        Assert.Equal(60, closeIdle.GetProperty("afterMinutes").GetInt32());
        Assert.Equal(18, closeIdle.GetProperty("total").GetProperty("savedMinutes").GetInt64());
    }

    [Fact]
    public void Meter_Table_ShowsIdleReloadSectionAndWhatIf()
    {
        var (code, stdout, stderr) = Run("meter", Write(IdleAndActive()), "--pool-minutes", "300", "--close-idle-after", "30m");
        Assert.True(code == 0, stderr);
        // Shares of consumed (18 of 138) and of included (18 of 300), then the sections' titles.
        Assert.All(
            [
                "13.0 %", "6.0 %", "Minutes charged by reloads to idle users (no engagement in the 30 min before)",
                "Idle users charged by reloads, 2026-03 (1 of 1)", "Apps whose reloads charged idle users, 2026-03 (1 of 1)",
                "What if idle connections closed after 30 min",
            ],
            expected => Assert.Contains(expected, stdout));
    }

    [Fact]
    public void Report_File_SaysWhatReloadsChargedIdleUsers()
    {
        var path = Write(IdleAndActive());
        var (code, stdout, stderr) = Run("report", path);
        Assert.True(code == 0, stderr);
        Assert.Contains("18 minutes charged by scheduled reloads to idle users (13.0 % of consumed)", stdout);

        var json = Json("report", path, "--format", "json").GetProperty("waste");
        Assert.Equal(18, json.GetProperty("idleReloadMinutes").GetInt64());
        Assert.Equal(0.1304, json.GetProperty("shareOfConsumed").GetDouble(), 9); // 18 of 138 minutes, to four decimals as the API writes shares
    }

    [Fact]
    public void Report_Server_RefusesQuietMinutes()
    {
        var (code, _, stderr) = Run("report", "--server", "http://127.0.0.1:9", "--key", "k", "--quiet-minutes", "10");
        Assert.Equal(1, code);
        Assert.Contains("--quiet-minutes is for an event log FILE only", stderr);
    }
}
