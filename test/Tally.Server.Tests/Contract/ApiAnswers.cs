using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tally.Metering;

namespace Tally.Server.Tests.Contract;

/// <summary>
/// The real JSON answer of every Tally route that answers with a body (Qlik's routes have their own contract tests),
/// from a running server given data that fills as many optional members as it can: a license, charged, covered, denied
/// and reload decisions, a seat plan, an alert channel, rule and fired alert, a revoked key, a signed-in dashboard.
/// </summary>
internal static class ApiAnswers
{
    /// <summary>Each answer under its operation, e.g. <c>GET /api/v1/usage/summary</c>.</summary>
    public static async Task<IReadOnlyDictionary<string, JsonElement>> CaptureAsync(TestServer server, WebhookListener listener)
    {
        var answers = new SortedDictionary<string, JsonElement>(StringComparer.Ordinal);
        async Task<JsonElement> Take(string operation, HttpResponseMessage response)
        {
            Assert.True(response.IsSuccessStatusCode, $"{operation} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            var json = await response.Json();
            answers[operation] = json;
            return json;
        }

        using var bootstrap = server.Client();
        await Take("POST /api/v1/tenants", await bootstrap.PostAsJsonAsync("/api/v1/tenants", new { id = "acme", name = "Acme" }));
        await Take("GET /api/v1/tenants", await bootstrap.GetAsync("/api/v1/tenants"));
        var admin = (await Take("POST /api/v1/tenants/{id}/api-keys", await bootstrap.PostAsJsonAsync("/api/v1/tenants/acme/api-keys", new { role = "admin" })))
            .GetProperty("key").GetString()!;
        using var adminClient = server.Client(admin);
        var ingest = (await Take("POST /api/v1/api-keys", await adminClient.PostAsJsonAsync("/api/v1/api-keys", new { role = "ingest" }))).GetProperty("key").GetString()!;
        var read = (await (await adminClient.PostAsJsonAsync("/api/v1/api-keys", new { role = "read" })).Json()).GetProperty("key").GetString()!;
        var spare = (await (await adminClient.PostAsJsonAsync("/api/v1/api-keys", new { role = "read" })).Json()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.NoContent, (await adminClient.DeleteAsync($"/api/v1/api-keys/{spare}")).StatusCode);
        await Take("GET /api/v1/api-keys", await adminClient.GetAsync("/api/v1/api-keys"));

        var terms = TestServer.Terms(packs: 1, packMinutes: 30, OverageAllowance.Capped(30)) with { AnalyzerSeats = 1 };
        await Take("PUT /api/v1/license", await adminClient.PutAsJsonAsync("/api/v1/license", new { key = server.Vendor.Issue(terms) }));
        await Take("GET /api/v1/license", await adminClient.GetAsync("/api/v1/license"));
        await Take("PUT /api/v1/allocations", await adminClient.PutAsJsonAsync("/api/v1/allocations", new
        {
            users = new object[] { new { user = "cap", allocation = "capacity", groups = new[] { "sales" }, capMinutes = 600 } },
            capacityGroups = new[] { "sales" },
            groupCapMinutes = new Dictionary<string, long> { ["sales"] = 900 },
            everyoneCapMinutes = 1200,
        }));
        await Take("PUT /api/v1/users/{user}", await adminClient.PutAsJsonAsync("/api/v1/users/seat", new { allocation = "analyzer" }));
        await Take("GET /api/v1/allocations", await adminClient.GetAsync("/api/v1/allocations"));

        var channel = (await Take("POST /api/v1/alerts/channels", await adminClient.PostAsJsonAsync("/api/v1/alerts/channels", new { kind = "webhook", url = listener.Url })))
            .GetProperty("id").GetString()!;
        await Take("POST /api/v1/alerts/rules", await adminClient.PostAsJsonAsync("/api/v1/alerts/rules", new { kind = "user-minutes", value = 6, channels = new[] { channel } }));
        await Take("GET /api/v1/alerts/channels", await adminClient.GetAsync("/api/v1/alerts/channels"));
        await adminClient.PostAsJsonAsync("/api/v1/alerts/rules", new { kind = "forecast-run-out", bound = "pessimistic", channels = new[] { channel } });
        await Take("GET /api/v1/alerts/rules", await adminClient.GetAsync("/api/v1/alerts/rules"));
        await Take("PUT /api/v1/calendar", await adminClient.PutAsJsonAsync("/api/v1/calendar", new { holidays = "FR", closedDays = new[] { "2026-12-24" } }));
        await Take("GET /api/v1/calendar", await adminClient.GetAsync("/api/v1/calendar"));

        using var ingestClient = server.Client(ingest);
        await Take("POST /api/v1/events", await ingestClient.PostAsJsonAsync("/api/v1/events", new object[]
        {
            new { id = "e1", user = "cap", device = "d1", app = "sales", action = "open-app" },
            new { id = "e2", user = "seat", device = "d2", app = "sales", action = "open-app" },
            new { id = "e3", user = "cap", device = "d1", app = "sales", action = "select" },
            new { id = "e4", app = "sales", action = "scheduled-reload" },
        }));
        server.Time.Advance(TimeSpan.FromMinutes(7));
        foreach (var user in new[] { "u1", "u2", "u3", "u4", "u5", "u6" })
        {
            await ingestClient.PostAsJsonAsync("/api/v1/access", new { user, device = "d", app = "hr", action = "open-app" });
        }
        await Take("POST /api/v1/access", await ingestClient.PostAsJsonAsync("/api/v1/access", new { id = "last", user = "u7", device = "d", app = "hr", action = "open-app" }));
        await listener.WaitForDeliveriesAsync(1);
        // A client's offline report naming events above (a reload's, a denied one's) and one the server never received.
        var outage = server.Time.GetUtcNow().AddHours(-1);
        object Granted(string eventId, string user, string? device) =>
            new { eventId, user, device, app = "sales", action = "open-app", time = outage.AddMinutes(5), minutes = 6 };
        await Take("POST /api/v1/offline-reports", await ingestClient.PostAsJsonAsync("/api/v1/offline-reports", new
        {
            id = "outage-1", client = "kiosk", policy = "fail-open", graceBudgetMinutes = 60, from = outage, to = outage.AddMinutes(30),
            grants = new[] { Granted("e1", "cap", "d1"), Granted("e4", "cap", null), Granted("last", "u7", "d"), Granted("never-sent", "u8", "d") },
            deniedChecks = 1, droppedEvents = 0,
        }));

        using var readClient = server.Client(read);
        await Take("GET /api/v1/usage/summary", await readClient.GetAsync("/api/v1/usage/summary"));
        await Take("GET /api/v1/usage/timeline", await readClient.GetAsync("/api/v1/usage/timeline?granularity=hour"));
        await Take("GET /api/v1/usage/users", await readClient.GetAsync("/api/v1/usage/users"));
        await Take("GET /api/v1/usage/apps", await readClient.GetAsync("/api/v1/usage/apps"));
        await Take("GET /api/v1/usage/version", await readClient.GetAsync("/api/v1/usage/version"));
        await Take("GET /api/v1/usage/denials", await readClient.GetAsync("/api/v1/usage/denials"));
        await Take("GET /api/v1/offline-reports", await readClient.GetAsync("/api/v1/offline-reports"));
        await Take("GET /api/v1/advice/seats", await readClient.GetAsync("/api/v1/advice/seats?seatPrice=40&packPrice=10&currency=eur"));
        // The alert fired by the events above is sent in the background: its history entry is the fact to wait for.
        await Eventually.Until(async () => await Take("GET /api/v1/alerts/history", await readClient.GetAsync("/api/v1/alerts/history?limit=1")),
            history => history.GetProperty("alerts").GetArrayLength() > 0, "the fired alert in the history");
        // After the alert history, whose newest alert this unit could change. cap's unit of 7 minutes ago has ended and cap is still connected to sales: this reload charges cap a unit, idle
        // at a quiet time of 5 minutes, so the waste report has a row of each list.
        await ingestClient.PostAsJsonAsync("/api/v1/events", new object[] { new { id = "e5", app = "sales", action = "scheduled-reload" } });
        await Take("GET /api/v1/usage/waste", await readClient.GetAsync("/api/v1/usage/waste?quietMinutes=5"));

        // The cookie is handed back by hand: it is Secure, which a cookie container would not send over plain HTTP.
        using var browser = server.Client(null);
        await Take("GET /dashboard/session (signed out)", await browser.GetAsync("/dashboard/session"));
        var signIn = await browser.PostAsJsonAsync("/dashboard/session", new { key = read });
        await Take("POST /dashboard/session", signIn);
        browser.DefaultRequestHeaders.Add("Cookie", signIn.Headers.GetValues("Set-Cookie").Single().Split(';')[0]);
        await Take("GET /dashboard/session", await browser.GetAsync("/dashboard/session"));
        await Take("GET /health/live", await bootstrap.GetAsync("/health/live"));
        await Take("GET /health/ready", await bootstrap.GetAsync("/health/ready"));
        return answers;
    }

    /// <summary>
    /// Every property name in <paramref name="json"/> as a path from the root (<c>forecast.asOf</c>, <c>users[].user</c>,
    /// <c>[].decisions[].minutes</c>), over all elements of every array. Dictionary keys (<c>groupCapMinutes</c>) are data,
    /// not names: pass their paths in <paramref name="maps"/>.
    /// </summary>
    public static SortedSet<string> Names(JsonElement json, params string[] maps)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        void Walk(JsonElement e, string path)
        {
            if (e.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in e.EnumerateArray())
                {
                    Walk(item, path + "[]");
                }
            }
            else if (e.ValueKind == JsonValueKind.Object && !maps.Contains(path))
            {
                foreach (var property in e.EnumerateObject())
                {
                    var child = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                    names.Add(child);
                    Walk(property.Value, child);
                }
            }
        }
        Walk(json, "");
        return names;
    }
}
