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
        Assert.Contains("either an event log FILE or --server", stderr);
        (code, _, stderr) = await RunAsync("--server", "http://127.0.0.1:1");
        Assert.Equal(1, code);
        Assert.Contains("--key", stderr);
    }

    [Fact]
    public async Task Report_Server_PrintsSummaryAndTopUsersOfTenant()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero));
        const string bootstrap = "report-test-bootstrap-key-0123";
        var app = TallyServer.Build(["--urls", "http://127.0.0.1:0", "--data", Path.Combine(_folder, "data"), $"--TALLY_ADMIN_KEY={bootstrap}"], b =>
        {
            b.Services.AddSingleton<TimeProvider>(time);
            b.Logging.ClearProviders();
        });
        await app.StartAsync();
        try
        {
            var url = app.Urls.First();
            using var admin = new HttpClient { BaseAddress = new Uri(url) };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bootstrap);
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
}
