using System.Net;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Tally.Client;
using Tally.Client.AspNetCore;

namespace Tally.Sample;

/// <summary>One of the demo tenant's users (see Tally.Server/Demo/DemoService.Plan) and the license it holds there.</summary>
public sealed record SampleUser(string Name, string License, string Note);

/// <summary>The users the sign-in page offers: the demo's plan has two Professional and four Analyzer seats, one capped capacity user, the rest on capacity.</summary>
public static class SampleUsers
{
    public static readonly IReadOnlyList<SampleUser> All =
    [
        new("u00001", "Professional", "may open and edit every dashboard; the seat pays, not the pool"),
        new("u00003", "Analyzer seat", "may open dashboards, paid by the seat; editing is refused"),
        new("u00008", "Capacity", "each engagement draws six-minute units from the monthly pool"),
        new("u00009", "Capacity", "each engagement draws six-minute units from the monthly pool"),
        new("u00007", "Capacity, capped at 120 minutes a month", "locked out once the cap is used"),
    ];

    public static SampleUser? Find(string? name) => All.FirstOrDefault(u => u.Name == name);
}

/// <summary>A dashboard of Acme Analytics: one of the demo tenant's apps, with one filter to select in.</summary>
public sealed record Dashboard(string App, string Title, string Measure, DashboardFilter Filter);

public sealed record DashboardFilter(string Field, IReadOnlyList<string> Values);

public static class Dashboards
{
    public static readonly IReadOnlyList<Dashboard> All =
    [
        new("app-0001", "Sales overview", "Revenue", new("Region", ["EMEA", "Americas", "APAC"])),
        new("app-0002", "Finance", "Operating margin", new("Quarter", ["Q1", "Q2", "Q3", "Q4"])),
        new("app-0003", "Supply chain", "On-time deliveries", new("Warehouse", ["Lyon", "Rotterdam", "Memphis"])),
        new("app-0004", "People", "Headcount", new("Department", ["Sales", "R&D", "Operations"])),
    ];

    public static Dashboard Find(string app) => All.First(d => d.App == app);
}

/// <summary>
/// Renders the gate's 403 (problem+json) as a page for a browser: a request that accepts HTML gets the reason in words;
/// an API caller keeps the problem details. Add it before <c>RequireTallyAccess</c> so that it sees the gate's result.
/// </summary>
public static class DenialPage
{
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        var http = context.HttpContext;
        if (result is ProblemHttpResult { StatusCode: StatusCodes.Status403Forbidden } problem
            && http.Request.Headers.Accept.Any(a => a?.Contains("text/html", StringComparison.OrdinalIgnoreCase) == true))
        {
            var reason = problem.ProblemDetails.Extensions.TryGetValue("reason", out var r) ? r?.ToString() : null;
            var offline = problem.ProblemDetails.Extensions.TryGetValue("offline", out var o) && o is true;
            var retry = http.Response.Headers.RetryAfter.ToString();
            var body = $"""
                <h1>Not now</h1>
                <p class="denied">{Html.E(TallyGateExtensions.Explain(reason))}</p>
                <p>Tally's reason: <code>{Html.E(reason ?? "none")}</code>{(offline ? " (decided offline, by the client's policy)" : "")}.
                {(retry.Length > 0 ? $"Try again in {Html.E(retry)} s." : "")}</p>
                <p><a href="/">Back to the dashboards</a></p>
                """;
            return Results.Content(Html.Layout(http, "Not now", body), "text/html; charset=utf-8", Encoding.UTF8, StatusCodes.Status403Forbidden);
        }
        return result;
    }
}

/// <summary>The pages, as plain HTML: no JavaScript, no framework.</summary>
public static class Html
{
    public static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    public static IResult Page(HttpContext http, string title, string body) =>
        Results.Content(Layout(http, title, body), "text/html; charset=utf-8", Encoding.UTF8);

    public static string Layout(HttpContext http, string title, string body)
    {
        var user = http.User.Identity?.IsAuthenticated == true ? http.User.Identity.Name : null;
        var license = http.User.FindFirst("acme:license")?.Value;
        var who = user is null ? "" : $"""
            <span>Signed in as <strong>{E(user)}</strong> ({E(license)})</span>
            <form method="post" action="/signout" class="inline">{Token(http)}<button>Sign out</button></form>
            """;
        return $"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{E(title)} · Acme Analytics</title>
            <style>
            body {"{"} font-family: system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; {"}"}
            header {"{"} display: flex; gap: 1rem; align-items: center; justify-content: space-between; padding: .75rem 1.5rem; background: #23304a; color: #fff; {"}"}
            header a {"{"} color: #fff; text-decoration: none; font-weight: 600; {"}"}
            main {"{"} max-width: 52rem; margin: 1.5rem auto; padding: 0 1.5rem; {"}"}
            .card {"{"} background: #fff; border-radius: 6px; padding: 1rem 1.25rem; margin-bottom: 1rem; box-shadow: 0 1px 2px #0002; {"}"}
            .decision {"{"} border-left: 4px solid #2f7d4f; {"}"}
            .decision.offline {"{"} border-left-color: #b7791f; {"}"}
            .denied {"{"} color: #a12b2b; font-weight: 600; {"}"}
            .inline {"{"} display: inline; {"}"}
            button {"{"} padding: .35rem .8rem; margin: .15rem; {"}"}
            footer {"{"} max-width: 52rem; margin: 0 auto 2rem; padding: 0 1.5rem; color: #667; font-size: .85rem; {"}"}
            </style>
            </head>
            <body>
            <header><a href="/">Acme Analytics</a>{who}</header>
            <main>
            {body}
            </main>
            </body>
            </html>
            """;
    }

    public static string SignIn(AntiforgeryTokenSet tokens, string? returnUrl)
    {
        var users = string.Join("\n", SampleUsers.All.Select(u => $"""
            <li><button name="user" value="{E(u.Name)}">{E(u.Name)}</button> <strong>{E(u.License)}</strong>: {E(u.Note)}</li>
            """));
        return $"""
            <h1>Sign in</h1>
            <div class="card">
            <p>Pick one of the demo tenant's users (no password: this is a sample). Tally meters what each does under the
            demo license: two Professional and four Analyzer seats, the others on the 10,000-minute capacity pool.</p>
            <form method="post" action="/signin">
            {Hidden(tokens)}
            <input type="hidden" name="returnUrl" value="{E(returnUrl)}">
            <ul>
            {users}
            </ul>
            </form>
            </div>
            """;
    }

    public static string Home(HttpContext http, TallyClientStatus status)
    {
        var boards = string.Join("\n", Dashboards.All.Select(d => $"""
            <li><a href="/dashboards/{E(d.App)}">{E(d.Title)}</a> <small>(Tally app <code>{E(d.App)}</code>)</small>
            · <a href="/dashboards/{E(d.App)}/edit">edit</a></li>
            """));
        return $"""
            <h1>Dashboards</h1>
            <div class="card">
            <p>Opening a dashboard asks Tally first (<code>RequireTallyAccess</code>), which meters it: a capacity user is
            charged a six-minute unit (or is covered by the one running), a seat holder's use is free; editing needs a
            Professional license.</p>
            <ul>
            {boards}
            </ul>
            </div>
            {Footer(status)}
            """;
    }

    public static string Dashboard(HttpContext http, Dashboard board, AccessDecision? decision, AntiforgeryTokenSet tokens, (string Value, string Id)? selected,
        TallyClientStatus status)
    {
        var rng = new Random(board.App.GetHashCode(StringComparison.Ordinal) ^ (selected?.Value.GetHashCode(StringComparison.Ordinal) ?? 0));
        var buttons = string.Join(" ", board.Filter.Values.Select(v => $"""<button name="value" value="{E(v)}">{E(v)}</button>"""));
        var selection = selected is { } s
            ? $"""<p>Selected <strong>{E(board.Filter.Field)} = {E(s.Value)}</strong>: tracked in the background as event <code>{E(s.Id)}</code>.</p>"""
            : "";
        return $"""
            <h1>{E(board.Title)}</h1>
            {DecisionCard(decision, "Opening this dashboard")}
            <div class="card">
            <p>{E(board.Measure)}: <strong>{rng.Next(60, 140)}</strong> · last month <strong>{rng.Next(60, 140)}</strong></p>
            <form method="post" action="/dashboards/{E(board.App)}/select">
            {Hidden(tokens)}
            {E(board.Filter.Field)}: {buttons}
            </form>
            {selection}
            <p><a href="/dashboards/{E(board.App)}/edit">Edit this dashboard</a> · <a href="/">All dashboards</a></p>
            </div>
            {Footer(status)}
            """;
    }

    public static string Edit(Dashboard board, AccessDecision? decision, TallyClientStatus status) => $"""
        <h1>Edit {E(board.Title)}</h1>
        {DecisionCard(decision, "Editing this sheet")}
        <div class="card">
        <p>The sheet editor would be here: you hold a Professional license.</p>
        <p><a href="/dashboards/{E(board.App)}">Back to the dashboard</a></p>
        </div>
        {Footer(status)}
        """;

    private static string DecisionCard(AccessDecision? decision, string what)
    {
        if (decision is null)
        {
            return "";
        }
        var meaning = decision.Decision switch
        {
            "charged" => "a new six-minute unit was charged to the pool",
            "covered" => "inside a unit already running: nothing more to pay",
            "free" => "a seat holder's engagement or an allowed authoring action: not paid from the pool",
            _ => decision.Decision,
        };
        var offline = decision.Offline
            ? "<p><strong>Offline</strong>: Tally could not be reached, so the client allowed it under its FailOpen policy; it is reported when Tally is back.</p>"
            : "<p>Decided online by Tally.</p>";
        return $"""
            <div class="card decision{(decision.Offline ? " offline" : "")}">
            <p>{E(what)}: <strong class="verdict">{E(decision.Decision)}</strong> ({E(meaning)}).</p>
            {offline}
            </div>
            """;
    }

    private static string Footer(TallyClientStatus s) => $"""
        <footer>Tally client: {(s.Online ? "online" : "offline")} · tracked {s.Tracked} · sent {s.Sent} · buffered {s.Buffered} · dropped {s.Dropped}</footer>
        """;

    private static string Hidden(AntiforgeryTokenSet tokens) =>
        $"""<input type="hidden" name="{E(tokens.FormFieldName)}" value="{E(tokens.RequestToken)}">""";

    private static string Token(HttpContext http) =>
        Hidden(http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http));
}
