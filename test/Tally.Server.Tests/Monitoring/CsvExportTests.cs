using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Tally.Server.Tests.Monitoring;

/// <summary>
/// Every <c>?format=csv</c> route, fed user and app names that spreadsheets read as formulas: each such name comes out
/// as text behind a single quote, quoted per RFC 4180, and figures the server computed stay numbers.
/// </summary>
public sealed class CsvExportTests
{
    /// <summary>Names that start a formula in Excel, LibreOffice or Google Sheets (OWASP's list: = + - @ TAB CR).</summary>
    // Names as events can carry them: control characters (TAB, CR) are refused at input (R12), so those starts are
    // covered by the writer's cell tests above.
    public static readonly string[] Hostile = ["=1+1", "-2+3", "-@x", "@SUM(A1)", "+cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"a,b\")"];

    [Theory]
    [InlineData("=1+1", "\"'=1+1\"")]
    [InlineData("-2+3", "\"'-2+3\"")]
    [InlineData("+1", "\"'+1\"")]
    [InlineData("@SUM(A1)", "\"'@SUM(A1)\"")]
    [InlineData("\t=x", "\"'\t=x\"")]
    [InlineData("\r=x", "\"'\r=x\"")]
    [InlineData("\n=x", "\"'\n=x\"")]
    [InlineData("-1", "\"'-1\"")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("line\r\nbreak", "\"line\r\nbreak\"")]
    [InlineData("=\"a\",b", "\"'=\"\"a\"\",b\"")]
    [InlineData("a=1", "a=1")]
    [InlineData("alice", "alice")]
    [InlineData("", "")]
    public void Cell_TextThatStartsAFormulaOrNeedsQuotes_NeutralisedAndQuoted(string text, string written)
    {
        Assert.Equal(written, CsvWriter.Cell(text));
        Assert.Equal(written == text, CsvWriter.IsPlain(text));
    }

    [Fact]
    public void Writer_NumbersTallyComputed_StayNumbers_TextIsNeutralised()
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        var csv = new CsvWriter(text);
        csv.Row(["name", "delta", "share"]);
        csv.Text("-1").Number(-1).Number(-0.25).EndRow();
        Assert.Equal("name,delta,share\r\n\"'-1\",-1,-0.25\r\n", text.ToString());
    }

    [Fact]
    public void ReportCsv_JsonNumbersStayNumbers_JsonStringsAreText()
    {
        using var report = JsonDocument.Parse("""{"rows":[{"user":"-1","delta":-1,"share":-0.5,"flag":true,"apps":["=a"],"none":null}]}""");
        Assert.Equal("user,delta,share,flag,apps,none\r\n\"'-1\",-1,-0.5,true,\"[\"\"=a\"\"]\",\r\n", Tally.Server.Monitoring.Csv.Write(report.RootElement));
    }

    [Fact]
    public async Task EveryExportRoute_HostileNames_WrittenAsTextNeverAsFormulas()
    {
        await using var listener = await WebhookListener.StartAsync();
        // The receiver is on loopback, which webhooks may reach only when the operator allows private targets.
        await using var server = await TestServer.StartAsync(extra: [AlertTests.AllowPrivateTargets]);
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 10, packMinutes: 1000));
        using var admin = server.Client(acme.Admin);
        var channel = await admin.PostAsJsonAsync("/api/v1/alerts/channels", new { kind = "webhook", url = listener.Url });
        Assert.Equal(HttpStatusCode.Created, channel.StatusCode);
        var rule = await admin.PostAsJsonAsync("/api/v1/alerts/rules",
            new { name = "=rule", kind = "user-minutes", value = 6, channels = new[] { (await channel.Json()).GetProperty("id").GetString() } });
        Assert.Equal(HttpStatusCode.Created, rule.StatusCode);

        using var ingest = server.Client(acme.Ingest);
        // Each hostile user opens the app of the same hostile name: one unit (6 minutes) each, which trips the rule.
        await ingest.SendEventsAsync([.. Hostile.Select(name => new { user = name, app = name, action = "open-app" })]);
        using var read = server.Client(acme.Read);
        await AlertTests.HistoryAsync(read, Hostile.Length);

        var routes = new Dictionary<string, string>
        {
            ["users"] = "/api/v1/usage/users?format=csv",
            ["apps"] = "/api/v1/usage/apps?format=csv",
            ["summary"] = "/api/v1/usage/summary?format=csv",
            ["timeline"] = "/api/v1/usage/timeline?format=csv",
            ["alert history"] = "/api/v1/alerts/history?format=csv",
            // A seat is cheaper than any capacity use at this price, so every user is a recommendation.
            ["seat advice"] = "/api/v1/advice/seats?seatPrice=0.01&packPrice=10&packMinutes=100&format=csv",
        };
        var tables = new Dictionary<string, List<Dictionary<string, string>>>();
        foreach (var (name, route) in routes)
        {
            var response = await read.GetAsync(route);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
            var rows = Parse(await response.Content.ReadAsStringAsync());
            Assert.True(rows.Count >= 1, $"{name}: no rows");
            foreach (var row in rows)
            {
                foreach (var (column, cell) in row)
                {
                    // The property that matters to a spreadsheet: no cell starts a formula unless it is a plain number.
                    Assert.True(cell.Length == 0 || !"=+-@\t\r\n".Contains(cell[0], StringComparison.Ordinal)
                        || double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _), $"{name}: {column} = {cell}");
                }
            }
            tables[name] = rows;
        }

        var expected = Hostile.Select(n => "'" + n).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, tables["users"].Select(r => r["user"]).Order(StringComparer.Ordinal));
        Assert.All(tables["users"], r => Assert.Equal("6", r["minutes"]));
        Assert.Equal(expected, tables["apps"].Select(r => r["app"]).Order(StringComparer.Ordinal));
        Assert.Equal(expected, tables["alert history"].Select(r => r["subject"]).Order(StringComparer.Ordinal));
        Assert.Equal(expected, tables["seat advice"].Select(r => r["user"]).Order(StringComparer.Ordinal));
        Assert.Equal(Hostile.Length * 6, long.Parse(tables["summary"][0]["consumedMinutes"], CultureInfo.InvariantCulture));
    }

    /// <summary>An RFC 4180 reader (quoted fields may hold commas, doubled quotes, CR and LF); rows keyed by the header.</summary>
    internal static List<Dictionary<string, string>> Parse(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"' && field.Length == 0)
            {
                for (i++; ; i++)
                {
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i++;
                            continue;
                        }
                        i++;
                        break;
                    }
                    field.Append(text[i]);
                }
                continue;
            }
            if (text[i] == ',')
            {
                record.Add(field.ToString());
                field.Clear();
                i++;
            }
            else if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                record.Add(field.ToString());
                field.Clear();
                records.Add(record);
                record = [];
                i += 2;
            }
            else
            {
                // Outside quotes nothing but commas and CRLF is special; a lone CR or LF here is malformed output.
                Assert.False(text[i] is '\r' or '\n', $"unquoted line break at {i}");
                field.Append(text[i++]);
            }
        }
        Assert.True(field.Length == 0 && record.Count == 0, "the last record does not end with CRLF");
        var header = records[0];
        return [.. records.Skip(1).Select(r =>
        {
            Assert.Equal(header.Count, r.Count);
            return header.Zip(r).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        })];
    }
}
