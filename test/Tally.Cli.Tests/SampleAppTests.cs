using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tally.Cli.Tests;

/// <summary>
/// samples/Tally.Sample (Acme Analytics, built by the solution build, which builds the tests too) against a real <c>tally serve --demo</c>: both as
/// processes on loopback ports, signed in through its pages as the demo's users, as the README's two commands run them.
/// </summary>
public sealed partial class SampleAppTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-sample-").FullName;

    [Fact]
    public async Task Sample_GatesDashboardsWithTheDemo_ChargesCapacity_RefusesEditingToNonProfessionals_AndSendsItsEvents()
    {
        var data = Path.Combine(_dir, "data");
        var port = Ports.Free();
        using var tally = await ServerProcess.StartAsync(TallyProcess.StartInfo("serve", "--demo", "--data", data, "--urls", ServerProcess.Urls(port)), port);
        await Eventually.Until(() => tally.Output.Contains("Ingest key", StringComparison.Ordinal), "the demo to print its keys", TimeSpan.FromSeconds(60));
        var ingestKey = File.ReadAllText(Path.Combine(data, "demo", "ingest-key.txt")).Trim();
        var readKey = File.ReadAllText(Path.Combine(data, "demo", "read-key.txt")).Trim();
        Assert.Contains($"Ingest key (for apps that send events): {ingestKey}", tally.Output, StringComparison.Ordinal);

        // The printed ingest key lets an application ask for access (and warms the server's access path up).
        using (var app = ApiClients.For(tally.Address, ingestKey))
        {
            app.Timeout = TimeSpan.FromSeconds(30);
            var access = await app.PostAsJsonAsync("/api/v1/access", new { id = "sample-test-warm-up", user = "u00010", device = "test", app = "app-0005", action = "open-app" });
            Assert.Equal(HttpStatusCode.OK, access.StatusCode);
        }
        using var read = ApiClients.For(tally.Address, readKey);
        var before = await EventsAsync(read);

        var samplePort = Ports.Free();
        var sampleDll = Repository.PathOf(Path.Combine("samples", "Tally.Sample", "bin", Configuration, "net10.0", "Tally.Sample.dll"));
        Assert.True(File.Exists(sampleDll), $"the sample is built with the solution: {sampleDll}");
        using var sample = await ServerProcess.StartAsync(ChildProcess.StartInfo("dotnet",
        [
            sampleDll, "--Tally:BaseAddress", tally.Address.AbsoluteUri, "--Tally:ApiKey", ingestKey, "--urls", ServerProcess.Urls(samplePort),
            "--Tally:BufferPath", Path.Combine(_dir, "buf.db"), "--Tally:AccessTimeout", "00:00:20",
        ]), samplePort);
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var browser = new HttpClient(handler) { BaseAddress = sample.Address, Timeout = TimeSpan.FromSeconds(30) };

        // Signed out: the dashboards send you to the sign-in page.
        var signedOut = await browser.GetAsync("/dashboards/app-0001");
        Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
        Assert.StartsWith("/signin", signedOut.Headers.Location!.PathAndQuery, StringComparison.Ordinal);

        // A capacity user opens a dashboard on a new browser (device): a unit is charged, online.
        await SignInAsync(browser, "u00008");
        var opened = await browser.GetAsync("/dashboards/app-0001");
        var page = await opened.Content.ReadAsStringAsync();
        Assert.True(opened.StatusCode == HttpStatusCode.OK, page);
        Assert.Contains("""class="verdict">charged<""", page, StringComparison.Ordinal);
        Assert.Contains("Decided online by Tally", page, StringComparison.Ordinal);
        // A selection is a form post that the client tracks in the background.
        var selected = await browser.PostAsync("/dashboards/app-0001/select", Form(page, ("value", "EMEA")));
        Assert.Equal(HttpStatusCode.OK, selected.StatusCode);
        Assert.Contains("Selected <strong>Region = EMEA</strong>", await selected.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // An Analyzer-seat user may open but not edit: 403 problem+json with the reason.
        await SignInAsync(browser, "u00003");
        var refused = await browser.GetAsync("/dashboards/app-0002/edit");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("not-permitted", problem.GetProperty("reason").GetString());
        Assert.False(problem.GetProperty("offline").GetBoolean());
        // A browser gets the reason in words.
        using var html = new HttpRequestMessage(HttpMethod.Get, "/dashboards/app-0002/edit");
        html.Headers.Accept.ParseAdd("text/html");
        var refusedPage = await browser.SendAsync(html);
        Assert.Equal(HttpStatusCode.Forbidden, refusedPage.StatusCode);
        Assert.Contains("This action needs a Professional license.", await refusedPage.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A Professional user edits.
        await SignInAsync(browser, "u00001");
        var edit = await browser.GetAsync("/dashboards/app-0002/edit");
        var editPage = await edit.Content.ReadAsStringAsync();
        Assert.True(edit.StatusCode == HttpStatusCode.OK, editPage);
        Assert.Contains("The sheet editor would be here", editPage, StringComparison.Ordinal);

        // Tally recorded what the sample sent: four access checks (one open, two refused edits, one edit) and the
        // tracked selection (the demo's live activity may add more meanwhile).
        await Eventually.Until(async () => (await sample.Http.GetFromJsonAsync<JsonElement>("/status")).GetProperty("sent").GetInt64() == 1,
            "the sample's client to send the selection");
        var after = await Eventually.Until(() => EventsAsync(read), events => events >= before + 5, $"the ledger to grow by 5 events from {before}",
            describe: events => events.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(after >= before + 5);
    }

    private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    private static async Task<long> EventsAsync(HttpClient read) =>
        (await read.GetFromJsonAsync<JsonElement>("/api/v1/usage/version")).GetProperty("events").GetInt64();

    private static async Task SignInAsync(HttpClient browser, string user)
    {
        var page = await browser.GetStringAsync("/signin");
        Assert.Contains($"""value="{user}">""", page, StringComparison.Ordinal);
        var response = await browser.PostAsync("/signin", Form(page, ("user", user)));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.OriginalString);
    }

    /// <summary>A form post from <paramref name="page"/>: its antiforgery token and <paramref name="fields"/>.</summary>
    private static FormUrlEncodedContent Form(string page, params (string Name, string Value)[] fields)
    {
        var token = TokenField().Match(page);
        Assert.True(token.Success, "the page has an antiforgery token");
        return new FormUrlEncodedContent([new(token.Groups[1].Value, WebUtility.HtmlDecode(token.Groups[2].Value)),
            .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
    }

    [GeneratedRegex("""<input type="hidden" name="([^"]+)" value="([^"]+)">""")]
    private static partial Regex TokenField();

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
    }
}
