using System.CommandLine;
using System.Net.Http.Headers;
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
            using var admin = new HttpClient { BaseAddress = new Uri(url) };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Bootstrap);
            (await admin.PostAsJsonAsync("/api/v1/tenants", new { id = "acme" })).EnsureSuccessStatusCode();
            async Task<string> Key(string role) =>
                (await (await admin.PostAsJsonAsync("/api/v1/tenants/acme/api-keys", new { role })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
            using var ingest = new HttpClient { BaseAddress = new Uri(url) };
            ingest.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Key("ingest"));
            (await ingest.PostAsJsonAsync("/api/v1/events", new object[]
            {
                new { user = "ann", app = "a", action = "open-app" },
                new { user = "bob", app = "a", action = "open-app" },
            })).EnsureSuccessStatusCode();
            time.Advance(TimeSpan.FromMinutes(6));
            (await ingest.PostAsJsonAsync("/api/v1/events", new object[] { new { user = "ann", app = "a", action = "select" } })).EnsureSuccessStatusCode();

            var (code, stdout, stderr) = await RunAsync("--server", url, "--key", await Key("read"), "--format", "json", "--top", "1");
            Assert.True(code == 0, stderr);
            var report = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal("2026-03", report.GetProperty("period").GetString());
            Assert.Equal(18, report.GetProperty("consumedMinutes").GetInt64());
            Assert.Equal(3, report.GetProperty("units").GetInt64());
            Assert.Equal("never", report.GetProperty("forecast").GetProperty("includedRunOutOutcome").GetString());
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
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Bootstrap);
            (await http.PostAsJsonAsync("/api/v1/tenants", new { id = "tiny" })).EnsureSuccessStatusCode();
            async Task<string> Key(string role) =>
                (await (await http.PostAsJsonAsync("/api/v1/tenants/tiny/api-keys", new { role })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
            var adminKey = await Key("admin");
            var ingestKey = await Key("ingest");
            var readKey = await Key("read");
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
            (await http.PutAsJsonAsync("/api/v1/license", new { key = File.ReadAllText(license).Trim() })).EnsureSuccessStatusCode();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ingestKey);
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
}
