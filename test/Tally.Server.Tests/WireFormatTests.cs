using System.Net;
using System.Text.Json;

namespace Tally.Server.Tests;

/// <summary>How answers look on the wire to a person with curl: ended lines, figures at a readable precision.</summary>
public sealed class WireFormatTests
{
    [Fact]
    public async Task JsonAnswers_EndWithOneNewline_SuccessesProblemsAndQlikRoutes()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 1000));
        using var read = server.Client(acme.Read);
        using var ingest = server.Client(acme.Ingest);

        var answers = new[]
        {
            await read.GetAsync("/api/v1/usage/summary"),
            await read.GetAsync("/api/v1/licenses/overview"),
            await read.GetAsync("/api/v1/usage/users?limit=0"),          // a validation problem
            await read.GetAsync("/api/v1/no-such-route"),               // the framework's 404, as problem+json
            await ingest.PostAsync("/api/v1/events", new StringContent("[{", System.Text.Encoding.UTF8, "application/json")),
        };

        foreach (var answer in answers)
        {
            var body = await answer.Content.ReadAsStringAsync();
            var what = $"{answer.RequestMessage!.Method} {answer.RequestMessage.RequestUri!.PathAndQuery} ({(int)answer.StatusCode})";
            Assert.True(body.EndsWith('\n'), $"{what} does not end with a newline: {body}");
            Assert.False(body.EndsWith("\n\n", StringComparison.Ordinal), $"{what} ends with two newlines");
            using var parsed = JsonDocument.Parse(body);  // still one JSON value
            Assert.NotEqual(JsonValueKind.Undefined, parsed.RootElement.ValueKind);
        }
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.BadRequest, HttpStatusCode.NotFound, HttpStatusCode.BadRequest],
            answers.Select(a => a.StatusCode));
    }

    [Fact]
    public async Task Summary_ComputedFigures_AtMostFourDecimals()
    {
        await using var server = await TestServer.StartAsync();
        var acme = await server.TenantAsync("acme");
        await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 3, packMinutes: 1000));
        using var ingest = server.Client(acme.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app" });
        // An instant whose elapsed share and expected minutes have long decimal expansions.
        server.Time.Advance(TimeSpan.FromHours(77).Add(TimeSpan.FromSeconds(13)));

        using var read = server.Client(acme.Read);
        var body = await (await read.GetAsync("/api/v1/usage/summary")).Content.ReadAsStringAsync();

        var fractions = System.Text.RegularExpressions.Regex.Matches(body, @"(?<=[:\[,])-?\d+\.(\d+)");
        Assert.NotEmpty(fractions);
        Assert.All(fractions, m => Assert.True(m.Groups[1].Value.Length <= 4, $"{m.Value} in {body}"));
    }
}
