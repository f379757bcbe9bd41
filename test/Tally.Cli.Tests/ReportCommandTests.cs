using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tally.Server;

namespace Tally.Cli.Tests;

public sealed class ReportCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-report-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var root = new RootCommand { ReportCommand.Create() };
        var code = await root.Parse(["report", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private const string Bootstrap = "report-test-bootstrap-key-0123";

    /// <summary>A real server on a free port with its clock in the test's hands; the caller stops and disposes it.</summary>
    /// <summary>A new tenant on the server at <paramref name="url"/>, created with the bootstrap key, with a key per role.</summary>
    private static async Task<TenantKeys> TenantAsync(string url, string id)
    {
        using var bootstrap = ApiClients.For(new Uri(url), Bootstrap);
        return await ApiClients.CreateTenantAsync(bootstrap, id);
    }

    private async Task<Microsoft.AspNetCore.Builder.WebApplication> StartServerAsync(FakeTimeProvider time, params string[] extra)
    {
        var app = TallyServer.Build(["--urls", "http://127.0.0.1:0", "--data", Path.Combine(_folder, "data"), $"--TALLY_ADMIN_KEY={Bootstrap}", .. extra], b =>
        {
            b.Services.AddSingleton<TimeProvider>(time);
            b.Logging.ClearProviders();
        });
        await app.StartAsync();
        return app;
    }

    private string WriteLog()
    {
        // Tuesday 10 March 2026 09:00 UTC: five users, one unit each (30 minutes), then nothing.
        var path = Path.Combine(_folder, "events.csv");
        File.WriteAllLines(path, ["time,user,device,app,action,id", .. Enumerable.Range(1, 5).Select(i => $"2026-03-10T09:00:00Z,u{i},,sales,open-app,e{i}")]);
        return path;
    }

    [Fact]
    public async Task Report_File_RunRateAndForecastMatchServerMath()
    {
        var (code, stdout, stderr) = await RunAsync(WriteLog(), "--pool-minutes", "90", "--overage", "30", "--as-of", "2026-03-17T09:00:00Z", "--format", "json");
        Assert.True(code == 0, stderr);
        var report = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("2026-03", report.GetProperty("period").GetString());
        Assert.Equal(30, report.GetProperty("consumedMinutes").GetInt64());
        Assert.Equal(120, report.GetProperty("limitMinutes").GetInt64());
        var expected = 90.0 * 393 / 744;
        Assert.Equal(expected, report.GetProperty("runRate").GetProperty("expectedMinutes").GetDouble(), 9);
        Assert.Equal("behind", report.GetProperty("runRate").GetProperty("status").GetString());
        // One week of history: 30 min in the Tuesday 09h slot; three more Tuesdays 09h in March → 120.
        var forecast = report.GetProperty("forecast");
        Assert.Equal(120, forecast.GetProperty("projectedMinutes").GetDouble(), 9);
        Assert.Equal(new DateTimeOffset(2026, 3, 24, 10, 0, 0, TimeSpan.Zero), forecast.GetProperty("includedRunOut").GetDateTimeOffset());
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 10, 0, 0, TimeSpan.Zero), forecast.GetProperty("limitRunOut").GetDateTimeOffset());
        Assert.Equal(5, report.GetProperty("topUsers").GetArrayLength());
    }

    [Fact]
    public async Task Report_File_Table_ShowsRunRateForecastAndTopUsers()
    {
        var (code, stdout, stderr) = await RunAsync(WriteLog(), "--pool-minutes", "90", "--as-of", "2026-03-17T09:00:00Z", "--top", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("behind", stdout);
        Assert.Contains("2026-03-24 10:00 UTC", stdout);
        Assert.Contains("u1", stdout);
        Assert.Contains("u2", stdout);
        Assert.DoesNotContain("u3", stdout);
    }

    [Fact]
    public async Task Report_BadArguments_ExitOneWithReason()
    {
        var (code, _, stderr) = await RunAsync();
        Assert.Equal(1, code);
        Assert.Contains("nothing to report on: give an event log FILE", stderr);
        Assert.DoesNotContain("not both", stderr);
        (code, _, stderr) = await RunAsync(WriteLog(), "--server", "http://127.0.0.1:1");
        Assert.Equal(1, code);
        Assert.Contains("not both", stderr);
        (code, _, stderr) = await RunAsync("--server", "http://127.0.0.1:1");
        Assert.Equal(1, code);
        Assert.Contains("--key", stderr);
    }

    [Fact]
    public async Task Report_Server_PrintsSummaryAndTopUsersOfTenant()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero));
        var app = await StartServerAsync(time);
        try
        {
            var url = app.Urls.First();
            var keys = await TenantAsync(url, "acme");
            using var ingest = ApiClients.For(new Uri(url), keys.Ingest);
            (await ingest.PostAsJsonAsync("/api/v1/events", new object[]
            {
                new { user = "ann", app = "a", action = "open-app" },
                new { user = "bob", app = "a", action = "open-app" },
            })).EnsureSuccessStatusCode();
            time.Advance(TimeSpan.FromMinutes(6));
            (await ingest.PostAsJsonAsync("/api/v1/events", new object[] { new { user = "ann", app = "a", action = "select" } })).EnsureSuccessStatusCode();

            var (code, stdout, stderr) = await RunAsync("--server", url, "--key", keys.Read, "--format", "json", "--top", "1");
            Assert.True(code == 0, stderr);
            var report = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal("2026-03", report.GetProperty("period").GetString());
            Assert.Equal(18, report.GetProperty("consumedMinutes").GetInt64());
            Assert.Equal(3, report.GetProperty("units").GetInt64());
            Assert.Equal("never", report.GetProperty("forecast").GetProperty("includedRunOutOutcome").GetString());
            AssertRangeConsistent(report.GetProperty("forecast"));
            Assert.True(report.GetProperty("forecast").GetProperty("model").GetProperty("historyDays").GetInt32() >= 0);
            var top = Assert.Single(report.GetProperty("topUsers").EnumerateArray());
            Assert.Equal("ann", top.GetProperty("user").GetString());
            Assert.Equal(12, top.GetProperty("minutes").GetInt64());

            (code, _, stderr) = await RunAsync("--server", url, "--key", "tally_wrong_key");
            Assert.Equal(1, code);
            Assert.Contains("401", stderr);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Report_FileAndServerWithSameEvents_SameIdleReloadMinutes()
    {
        // ann opens sales at 09:00 and only sends heartbeats after; reloads at 10:00 and 11:00 charge her idle (R14).
        var at = new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);
        var lines = new List<string> { "time,user,device,app,action,id", "2026-03-10T09:00:00Z,ann,,sales,open-app,e0" };
        var time = new FakeTimeProvider(at);
        var app = await StartServerAsync(time);
        try
        {
            var url = app.Urls.First();
            var keys = await TenantAsync(url, "idle");
            var readKey = keys.Read;
            using var http = ApiClients.For(new Uri(url), keys.Ingest);
            (await http.PostAsJsonAsync("/api/v1/events", new object[] { new { user = "ann", app = "sales", action = "open-app" } })).EnsureSuccessStatusCode();
            for (var minute = 10; minute <= 120; minute += 10)
            {
                time.Advance(TimeSpan.FromMinutes(10));
                var stamp = at.AddMinutes(minute).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
                (await http.PostAsJsonAsync("/api/v1/events", new object[] { new { user = "ann", action = "heartbeat" } })).EnsureSuccessStatusCode();
                lines.Add($"{stamp},ann,,,heartbeat,h{minute}");
                if (minute % 60 == 0)
                {
                    (await http.PostAsJsonAsync("/api/v1/events", new object[] { new { app = "sales", action = "scheduled-reload" } })).EnsureSuccessStatusCode();
                    lines.Add($"{stamp},,,sales,scheduled-reload,r{minute}");
                }
            }
            var log = Path.Combine(_folder, "idle.csv");
            File.WriteAllLines(log, lines);

            var server = await RunAsync("--server", url, "--key", readKey, "--format", "json");
            var file = await RunAsync(log, "--as-of", "2026-03-10T11:00:00Z", "--format", "json");
            var serverTable = await RunAsync("--server", url, "--key", readKey);
            Assert.True(server.Code == 0, server.Err);
            Assert.True(file.Code == 0, file.Err);
            var (fromServer, fromFile) = (JsonDocument.Parse(server.Out).RootElement.GetProperty("waste"), JsonDocument.Parse(file.Out).RootElement.GetProperty("waste"));
            Assert.Equal(12, fromServer.GetProperty("idleReloadMinutes").GetInt64());
            foreach (var name in new[] { "idleReloadUnits", "idleReloadMinutes", "reloadUnits", "reloadMinutes", "consumedMinutes", "shareOfConsumed", "users", "apps", "hours" })
            {
                Assert.Equal(fromFile.GetProperty(name).ToString(), fromServer.GetProperty(name).ToString());
            }
            Assert.Contains("12 minutes charged by scheduled reloads to idle users", serverTable.Out);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Report_FileAndServerWithSameEvents_SameVerdicts_ExhaustedPoolAlreadyReachedAndAhead()
    {
        // A 10-minute pool: ann's unit takes 6, so less than a unit is left and bob is denied pool-exhausted.
        var keys = Path.Combine(_folder, "keys");
        var license = Path.Combine(_folder, "tiny.lic");
        Assert.Equal(0, TallyProcess.Run(null, "license", "keygen", "--out", keys).ExitCode);
        var issue = TallyProcess.Run(null, "license", "issue", "--signing-key", Path.Combine(keys, "signing-key.pem"), "--customer", "Tiny",
            "--packs", "1", "--pack-minutes", "10", "--valid-from", "2026-03-01", "--valid-to", "2030-01-01", "--out", license);
        Assert.True(issue.ExitCode == 0, issue.Stderr);
        var at = new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);
        var asOf = at.AddHours(1);
        var log = Path.Combine(_folder, "tiny.csv");
        File.WriteAllLines(log, ["time,user,device,app,action,id", "2026-03-10T09:00:00Z,ann,,sales,open-app,e1", "2026-03-10T09:00:00Z,bob,,sales,open-app,e2"]);

        var time = new FakeTimeProvider(at);
        var app = await StartServerAsync(time, "--public-key", Path.Combine(keys, "public-key.pem"));
        try
        {
            var url = app.Urls.First();
            var tenant = await TenantAsync(url, "tiny");
            var readKey = tenant.Read;
            using (var admin = ApiClients.For(new Uri(url), tenant.Admin))
            {
                (await admin.PutAsJsonAsync("/api/v1/license", new { key = File.ReadAllText(license).Trim() })).EnsureSuccessStatusCode();
            }
            using var http = ApiClients.For(new Uri(url), tenant.Ingest);
            (await http.PostAsJsonAsync("/api/v1/events", new object[]
            {
                new { user = "ann", app = "sales", action = "open-app" },
                new { user = "bob", app = "sales", action = "open-app" },
            })).EnsureSuccessStatusCode();
            time.SetUtcNow(asOf);

            var server = await RunAsync("--server", url, "--key", readKey, "--format", "json");
            var file = await RunAsync(log, "--pool-minutes", "10", "--as-of", "2026-03-10T10:00:00Z", "--format", "json");
            var serverTable = await RunAsync("--server", url, "--key", readKey);
            var fileTable = await RunAsync(log, "--pool-minutes", "10", "--as-of", "2026-03-10T10:00:00Z");

            Assert.True(server.Code == 0, server.Err);
            Assert.True(file.Code == 0, file.Err);
            foreach (var report in new[] { JsonDocument.Parse(server.Out).RootElement, JsonDocument.Parse(file.Out).RootElement })
            {
                Assert.Equal(6, report.GetProperty("consumedMinutes").GetInt64());
                Assert.Equal(1, report.GetProperty("deniedEvents").GetInt64());
                Assert.Equal("ahead", report.GetProperty("runRate").GetProperty("status").GetString());
                Assert.Equal("already-reached", report.GetProperty("forecast").GetProperty("includedRunOutOutcome").GetString());
                Assert.Equal("already-reached", report.GetProperty("forecast").GetProperty("limitRunOutOutcome").GetString());
            }
            // The range and what the model read are the API's, the same from both.
            var (serverForecast, fileForecast) = (JsonDocument.Parse(server.Out).RootElement.GetProperty("forecast"), JsonDocument.Parse(file.Out).RootElement.GetProperty("forecast"));
            AssertRangeConsistent(serverForecast);
            AssertRangeConsistent(fileForecast);
            Assert.Equal(serverForecast.GetProperty("model").ToString(), fileForecast.GetProperty("model").ToString());
            foreach (var name in new[] { "projectedDemandLowMinutes", "projectedDemandHighMinutes", "includedRunOutEarliestOutcome", "limitRunOutLatestOutcome" })
            {
                Assert.Equal(serverForecast.GetProperty("range").GetProperty(name).ToString(), fileForecast.GetProperty("range").GetProperty(name).ToString());
            }
            // The file knows the unit that used the pool up; the server's API does not say when, so the report does not guess.
            Assert.Equal(at, JsonDocument.Parse(file.Out).RootElement.GetProperty("forecast").GetProperty("includedRunOut").GetDateTimeOffset());
            Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(server.Out).RootElement.GetProperty("forecast").GetProperty("includedRunOut").ValueKind);
            Assert.Contains("already reached at 2026-03-10 09:00 UTC", fileTable.Out);
            Assert.Matches(@"Included minutes run out\s*│\s*already reached\s*│", serverTable.Out);
            Assert.DoesNotContain("2026-03-10 10:00 UTC", serverTable.Out);
            Assert.Contains("ahead (pool exhausted;", serverTable.Out);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>
    /// A 60-minute pool (ten units) on Tuesday 10 March 2026: three users at 09:00, a fourth exactly at 12:00 (the
    /// report's instant), then ten latecomers at 13:00 who would use up the pool, be denied and top the list.
    /// </summary>
    private (string Whole, string UpToAsOf) WriteLogWithLaterEvents()
    {
        string[] header = ["time,user,device,app,action,id"];
        string[] before = [.. Enumerable.Range(1, 3).Select(i => $"2026-03-10T09:00:00Z,u{i},,sales,open-app,e{i}"), "2026-03-10T12:00:00Z,u4,,sales,open-app,e4"];
        // Later events come first in the file too: the cut is by time, not by position.
        string[] after = [.. Enumerable.Range(1, 10).Select(i => $"2026-03-10T13:00:00Z,late{i},,sales,open-app,l{i}"), "2026-03-10T13:30:00Z,late1,,sales,select,l11"];
        var whole = Path.Combine(_folder, "whole.csv");
        var upTo = Path.Combine(_folder, "up-to.csv");
        File.WriteAllLines(whole, [.. header, .. after, .. before]);
        File.WriteAllLines(upTo, [.. header, .. before]);
        return (whole, upTo);
    }

    [Fact]
    public async Task Report_File_AsOf_LaterEventsCountInNoFigure()
    {
        var (whole, upTo) = WriteLogWithLaterEvents();
        string[] options = ["--pool-minutes", "60", "--as-of", "2026-03-10T12:00:00Z", "--format", "json"];
        var asOf = await RunAsync([whole, .. options]);
        var cut = await RunAsync([upTo, .. options]);
        var all = await RunAsync(whole, "--pool-minutes", "60", "--format", "json");
        Assert.True(asOf.Code == 0, asOf.Err);
        Assert.True(cut.Code == 0, cut.Err);
        Assert.True(all.Code == 0, all.Err);
        var report = JsonDocument.Parse(asOf.Out).RootElement;
        // The event at exactly the instant has happened as of it (≤); the thirteen o'clock ones have not.
        Assert.Equal(24, report.GetProperty("consumedMinutes").GetInt64());
        Assert.Equal(4, report.GetProperty("units").GetInt64());
        Assert.Equal(0, report.GetProperty("deniedEvents").GetInt64());
        Assert.Equal(["u1", "u2", "u3", "u4"], report.GetProperty("topUsers").EnumerateArray().Select(u => u.GetProperty("user").GetString()).Order());
        Assert.NotEqual("already-reached", report.GetProperty("forecast").GetProperty("includedRunOutOutcome").GetString());
        // Every figure, the forecast and its history included, is what the log cut at the instant gives.
        Assert.Equal(WithoutSource(cut.Out), WithoutSource(asOf.Out));
        // And the later events do change them when they have happened: the test's log is not blind to them.
        var later = JsonDocument.Parse(all.Out).RootElement;
        Assert.Equal(60, later.GetProperty("consumedMinutes").GetInt64());
        Assert.True(later.GetProperty("deniedEvents").GetInt64() > 0);
        Assert.Equal("already-reached", later.GetProperty("forecast").GetProperty("includedRunOutOutcome").GetString());
        Assert.Contains(later.GetProperty("topUsers").EnumerateArray(), u => u.GetProperty("user").GetString() == "late1");
    }

    /// <summary>A report's JSON without its source (the file's path), which is all two files' reports may differ in.</summary>
    private static string WithoutSource(string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node.Remove("source");
        return node.ToJsonString();
    }

    [Fact]
    public void Report_AsOfWithoutOffset_RefusedLikeAnEventTime_WithOffsetAccepted()
    {
        var (whole, _) = WriteLogWithLaterEvents();
        // The real executable, as a user runs it: the machine's own zone must not decide what the instant means.
        var refused = TallyProcess.Run(null, "report", whole, "--as-of", "2026-03-10T12:00");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--as-of", refused.Stderr);
        Assert.Contains("'2026-03-10T12:00' has no UTC offset", refused.Stderr);
        var garbage = TallyProcess.Run(null, "report", whole, "--as-of", "noon");
        Assert.Equal(1, garbage.ExitCode);
        Assert.Contains("--as-of: 'noon' is not an ISO-8601 instant with an offset", garbage.Stderr);

        var utc = TallyProcess.Run(null, "report", whole, "--pool-minutes", "60", "--as-of", "2026-03-10T12:00Z", "--format", "json");
        var paris = TallyProcess.Run(null, "report", whole, "--pool-minutes", "60", "--as-of", "2026-03-10T14:00+02:00", "--format", "json");
        Assert.True(utc.ExitCode == 0, utc.Stderr);
        Assert.True(paris.ExitCode == 0, paris.Stderr);
        Assert.Equal(24, JsonDocument.Parse(utc.Stdout).RootElement.GetProperty("consumedMinutes").GetInt64());
        // The same instant written two ways is the same report.
        Assert.Equal(utc.Stdout, paris.Stdout);
    }

    [Fact]
    public async Task Report_File_CalendarOptions_ReachTheForecastModel()
    {
        var log = WriteLog();
        async Task<JsonElement> Model(params string[] extra)
        {
            var (code, stdout, stderr) = await RunAsync([log, "--pool-minutes", "90", "--as-of", "2026-03-17T09:00:00Z", "--format", "json", .. extra]);
            Assert.True(code == 0, stderr);
            return JsonDocument.Parse(stdout).RootElement.GetProperty("forecast").GetProperty("model");
        }
        // auto: the country of --timezone's zone; UTC is no country's.
        Assert.Equal(JsonValueKind.Null, (await Model()).GetProperty("holidayCountry").ValueKind);
        Assert.Equal("FR", (await Model("--timezone", "Europe/Paris")).GetProperty("holidayCountry").GetString());
        Assert.Equal(JsonValueKind.Null, (await Model("--timezone", "Europe/Paris", "--holidays", "none")).GetProperty("holidayCountry").ValueKind);
        var german = await Model("--holidays", "de", "--closed-days", "2026-12-24, 2026-12-31,2026-12-24");
        Assert.Equal("DE", german.GetProperty("holidayCountry").GetString());
        Assert.Equal(2, german.GetProperty("closureDays").GetInt32());

        var (code, stdout, _) = await RunAsync(log, "--pool-minutes", "90", "--as-of", "2026-03-17T09:00:00Z", "--holidays", "FR", "--closed-days", "2026-12-24,2026-12-31");
        Assert.Equal(0, code);
        Assert.Contains("FR holidays + 2 closure days", stdout);

        var (badCode, _, badCountry) = await RunAsync(log, "--holidays", "XX");
        Assert.Equal(1, badCode);
        Assert.Contains("--holidays", badCountry);
        Assert.Contains("'XX' is not a country whose public holidays are known", badCountry);
        (badCode, _, var badDay) = await RunAsync(log, "--closed-days", "2026-12-24,2026-12-32");
        Assert.Equal(1, badCode);
        Assert.Contains("--closed-days: item 2, '2026-12-32', is not a date", badDay);
    }

    [Fact]
    public async Task Report_Server_FileModeOnlyOptions_Refused()
    {
        // Checked before the server is asked: nothing listens here.
        var (code, _, stderr) = await RunAsync("--server", "http://127.0.0.1:1", "--key", "k", "--as-of", "2026-03-10T12:00:00Z", "--holidays", "FR", "--closed-days", "2026-12-24");
        Assert.Equal(1, code);
        Assert.Contains("--as-of, --holidays and --closed-days are for an event log FILE only", stderr);
        (code, _, stderr) = await RunAsync("--server", "http://127.0.0.1:1", "--key", "k", "--pool-minutes", "90");
        Assert.Equal(1, code);
        Assert.Contains("--pool-minutes is for an event log FILE only", stderr);
    }

    [Fact]
    public async Task Report_File_ExampleLog_ForecastRangeAndModelConsistent()
    {
        var examples = Path.Combine(Repository.Root, "examples", "events.csv");
        var (code, stdout, stderr) = await RunAsync(examples, "--packs", "1", "--overage", "500", "--as-of", "2026-11-16T12:00:00Z", "--timezone", "Europe/Paris", "--format", "json");
        Assert.True(code == 0, stderr);
        AssertRangeConsistent(JsonDocument.Parse(stdout).RootElement.GetProperty("forecast"));
        var model = JsonDocument.Parse(stdout).RootElement.GetProperty("forecast").GetProperty("model");
        Assert.Equal("FR", model.GetProperty("holidayCountry").GetString());
        Assert.True(model.GetProperty("historyDays").GetInt32() > 0);
    }

    /// <summary>The range brackets the point: low ≤ demand ≤ high, and each earliest run-out is not after its latest.</summary>
    private static void AssertRangeConsistent(JsonElement forecast)
    {
        var range = forecast.GetProperty("range");
        var demand = forecast.GetProperty("projectedDemandMinutes").GetDouble();
        Assert.True(range.GetProperty("projectedDemandLowMinutes").GetDouble() <= demand, forecast.ToString());
        Assert.True(demand <= range.GetProperty("projectedDemandHighMinutes").GetDouble(), forecast.ToString());
        Assert.True(forecast.GetProperty("projectedMinutes").GetDouble() <= demand, forecast.ToString());
        foreach (var threshold in new[] { "included", "limit" })
        {
            var earliest = range.GetProperty(threshold + "RunOutEarliest");
            var latest = range.GetProperty(threshold + "RunOutLatest");
            Assert.NotNull(range.GetProperty(threshold + "RunOutEarliestOutcome").GetString());
            Assert.NotNull(range.GetProperty(threshold + "RunOutLatestOutcome").GetString());
            if (earliest.ValueKind != JsonValueKind.Null && latest.ValueKind != JsonValueKind.Null)
            {
                Assert.True(earliest.GetDateTimeOffset() <= latest.GetDateTimeOffset(), forecast.ToString());
            }
        }
    }

    [Fact]
    public void Report_Table_RangeAndCalendar_PrintedWhenTheyDiffer()
    {
        var at = new DateTimeOffset(2026, 6, 25, 6, 27, 0, TimeSpan.Zero);
        Assert.Equal("", ReportCommand.Spread(at, "projected", at, "projected", at, "projected"));
        Assert.Equal(" (10–90 %: 24 Jun 18:00 – not within the period)",
            ReportCommand.Spread(at, "projected", new DateTimeOffset(2026, 6, 24, 18, 0, 0, TimeSpan.Zero), "projected", null, "not-within-period"));
        Assert.Equal("FR holidays + 2 closure days; 40 days of history; working day ≈ 1,200 min; trend +5.2 %/week; level shift from 2026-05-11",
            ReportCommand.CalendarLine(new Tally.Contract.ForecastModelView(1200, 5.2, new DateOnly(2026, 5, 11), 40, "FR", 2)));
        Assert.Equal("no public holidays; 1 day of history", ReportCommand.CalendarLine(new Tally.Contract.ForecastModelView(0, 0, null, 1, null, 0)));
    }
}
