using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.TestSupport;

/// <summary>
/// Asserts the problem+json body Tally itself writes (src/Tally.Server/Problems.cs), not only a status code: the
/// framework's own 400 (a body that does not bind, say) has the same status, so a status-only check would pass for a
/// refusal Tally never made. Tally's body carries its title ("Bad request"), the status, a detail naming the reason
/// and, for a refused event or text, the index, field and reason.
/// </summary>
public static class ProblemAssertions
{
    /// <summary>The titles Tally's problems carry, by status (Problems.Status callers).</summary>
    private static readonly Dictionary<HttpStatusCode, string> TallyTitles = new()
    {
        [HttpStatusCode.BadRequest] = "Bad request",
        [HttpStatusCode.NotFound] = "Not found",
    };

    /// <summary>
    /// Asserts <paramref name="response"/> is Tally's problem with <paramref name="status"/>; <paramref name="detailContains"/>
    /// must be in the detail, and <paramref name="field"/>, <paramref name="index"/> and <paramref name="reasonContains"/>,
    /// when given, must match the extension members. Returns the body for further checks.
    /// </summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status,
        string? detailContains = null, string? field = null, string? reasonContains = null, int? index = null, string? title = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status} {status}, got {(int)response.StatusCode} {response.StatusCode}: {text}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
            $"expected an application/problem+json body, got '{response.Content.Headers.ContentType}': {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        var expectedTitle = title ?? TallyTitles.GetValueOrDefault(status);
        if (expectedTitle is not null)
        {
            Assert.Equal(expectedTitle, problem.GetProperty("title").GetString());
        }
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        var detail = problem.TryGetProperty("detail", out var d) ? d.GetString() : null;
        Assert.False(string.IsNullOrWhiteSpace(detail), $"the problem has no detail: {text}");
        if (detailContains is not null)
        {
            Assert.Contains(detailContains, detail);
        }
        if (field is not null)
        {
            Assert.True(problem.TryGetProperty("field", out var f), $"the problem names no field: {text}");
            Assert.Equal(field, f.GetString());
        }
        if (index is not null)
        {
            Assert.True(problem.TryGetProperty("index", out var i), $"the problem names no index: {text}");
            Assert.Equal(index.Value, i.GetInt32());
        }
        if (reasonContains is not null)
        {
            Assert.True(problem.TryGetProperty("reason", out var r), $"the problem gives no reason: {text}");
            Assert.Contains(reasonContains, r.GetString());
        }
        return problem;
    }

    /// <summary>Posts <paramref name="body"/> as JSON and asserts Tally's problem; the short form for a refused request.</summary>
    public static async Task<JsonElement> PostExpectingProblemAsync(this HttpClient client, string path, object body, HttpStatusCode status,
        string? detailContains = null, string? field = null, string? reasonContains = null, int? index = null)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        return await response.AssertProblemAsync(status, detailContains, field, reasonContains, index);
    }
}
