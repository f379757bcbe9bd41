using System.Reflection;
using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Tally.Client;
using Tally.Client.AspNetCore;
using Tally.Sample;

// Acme Analytics: a sample app that licenses its dashboards with Tally. Run `./tally serve --demo` from the repository
// root in one terminal, then `dotnet run --project samples/Tally.Sample` in another, and open http://localhost:5080/.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = ContentRoot() });

// Tally.Client: options from the section "Tally" (appsettings.json, TALLY__* variables, --Tally:ApiKey ... arguments).
// Two things are settled here: the buffer file is made absolute under the content root, and without Tally:ApiKey the
// demo's ingest key is read from the file `tally serve --demo` keeps it in.
var keyFile = Path.GetFullPath(builder.Configuration["Sample:DemoIngestKeyFile"] ?? "../../data/demo/ingest-key.txt", builder.Environment.ContentRootPath);
var apiKey = builder.Configuration["Tally:ApiKey"] is { Length: > 0 } configured ? configured
    : File.Exists(keyFile) ? File.ReadAllText(keyFile).Trim()
    : null;
if (string.IsNullOrEmpty(apiKey))
{
    Console.Error.WriteLine($"""
        Acme Analytics needs a Tally ingest key, and found none: no Tally:ApiKey and no {keyFile}.
        Start the demo from the repository root first (`./tally serve --demo`, which writes that file), or pass --Tally:ApiKey tally_...
        """);
    return 2;
}
builder.Services.AddTallyClient(builder.Configuration, options =>
{
    options.ApiKey = apiKey;
    options.BufferPath = Path.GetFullPath(options.BufferPath, builder.Environment.ContentRootPath);
    Directory.CreateDirectory(Path.GetDirectoryName(options.BufferPath)!);
});

// Who the gate meters is the signed-in user's name; the device is the gate's default, a cookie per browser.
builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
    .AddCookie(options =>
    {
        options.LoginPath = "/signin";
        options.Cookie.Name = "acme-auth";
        options.Cookie.SameSite = SameSiteMode.Lax;
    });
builder.Services.AddAuthorization();
builder.Services.AddAntiforgery(options => options.Cookie.Name = "acme-antiforgery");

var app = builder.Build();

app.UseStatusCodePages(async context =>
{
    // Bodiless errors (404 of an unknown page, 400 of a bad form) as a page; the gate's 403 is rendered by DenialPage.
    var http = context.HttpContext;
    http.Response.ContentType = "text/html; charset=utf-8";
    await http.Response.WriteAsync(Html.Layout(http, $"Error {http.Response.StatusCode}",
        $"<h1>Error {http.Response.StatusCode}</h1><p><a href=\"/\">Back to the dashboards</a></p>"));
});
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapGet("/signin", (HttpContext http, IAntiforgery antiforgery, string? returnUrl) =>
    Html.Page(http, "Sign in", Html.SignIn(antiforgery.GetAndStoreTokens(http), returnUrl)));

app.MapPost("/signin", async (HttpContext http, [FromForm] string user, [FromForm] string? returnUrl) =>
{
    if (SampleUsers.Find(user) is not { } who)
    {
        return Results.BadRequest();
    }
    var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, who.Name), new Claim("acme:license", who.License)],
        CookieAuthenticationDefaults.AuthenticationScheme);
    await http.SignInAsync(new ClaimsPrincipal(identity));
    return Results.LocalRedirect(returnUrl is { Length: > 0 } back && back.StartsWith('/') && !back.StartsWith("//", StringComparison.Ordinal) ? back : "/");
});

app.MapPost("/signout", async (HttpContext http, TallyClient tally) =>
{
    if (http.User.Identity?.Name is { } user)
    {
        // Logging out is free (R4); Tally learns the session ended.
        tally.Track(new TallyEvent(user, null, TallyActions.Logout, Device(http)));
        await http.SignOutAsync();
    }
    return Results.LocalRedirect("/signin");
}).RequireAuthorization();

app.MapGet("/", (HttpContext http, TallyClient tally) =>
    Html.Page(http, "Dashboards", Html.Home(http, tally.Status))).RequireAuthorization();

var dashboard = $"{{app:regex(^({string.Join('|', Dashboards.All.Select(d => d.App))})$)}}";

// Opening a dashboard opens its app: Tally meters it (a new unit is charged, or it is covered by a seat or a unit
// already running) or denies it (403 with the reason, rendered by DenialPage for a browser).
app.MapGet($"/dashboards/{dashboard}", (HttpContext http, IAntiforgery antiforgery, TallyClient tally, string app) =>
    Html.Page(http, Dashboards.Find(app).Title, Html.Dashboard(http, Dashboards.Find(app), Decision(http), antiforgery.GetAndStoreTokens(http), null, tally.Status)))
    .RequireAuthorization()
    .AddEndpointFilter(DenialPage.Filter)
    .RequireTallyAccess(app: "{app}");

// Editing a sheet is a Professional-only action (R4): anyone else is denied not-permitted.
app.MapGet($"/dashboards/{dashboard}/edit", (HttpContext http, TallyClient tally, string app) =>
    Html.Page(http, "Edit " + Dashboards.Find(app).Title, Html.Edit(Dashboards.Find(app), Decision(http), tally.Status)))
    .RequireAuthorization()
    .AddEndpointFilter(DenialPage.Filter)
    .RequireTallyAccess(app: "{app}", action: TallyActions.EditSheet);

// A selection, without JavaScript: the form posts here and the client meters it in the background (batched, buffered
// while Tally is unreachable, sent once). The page is rendered from the post so that it is not opened again.
app.MapPost($"/dashboards/{dashboard}/select", (HttpContext http, IAntiforgery antiforgery, TallyClient tally, string app, [FromForm] string value) =>
{
    var board = Dashboards.Find(app);
    if (!board.Filter.Values.Contains(value, StringComparer.Ordinal))
    {
        return Results.BadRequest();
    }
    var id = tally.Track(new TallyEvent(http.User.Identity!.Name, app, TallyActions.Select, Device(http)));
    return Html.Page(http, board.Title, Html.Dashboard(http, board, null, antiforgery.GetAndStoreTokens(http), (value, id), tally.Status));
}).RequireAuthorization();

// The client's counters (tracked, sent, buffered, ...) and a readiness probe, for whoever runs the sample.
app.MapGet("/status", (TallyClient tally) => Results.Ok(tally.Status));
app.MapGet("/health/ready", () => Results.Text("ready"));

try
{
    await app.RunAsync();
}
catch (Microsoft.Extensions.Options.OptionsValidationException e)
{
    Console.Error.WriteLine("Acme Analytics: the Tally settings are not usable:");
    foreach (var failure in e.Failures)
    {
        Console.Error.WriteLine("  " + failure);
    }
    return 2;
}
return 0;

static AccessDecision? Decision(HttpContext http) => http.Items[TallyGateExtensions.DecisionItem] as AccessDecision;

// The gate names a browser with its device cookie; a selection from the same browser is metered on the same device.
static string? Device(HttpContext http) => http.Request.Cookies[TallyGateOptions.DeviceCookie];

// The project folder when it is where it was built (dotnet run), else the folder of the built app.
static string ContentRoot()
{
    var project = typeof(SampleUsers).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "SampleProjectDirectory")?.Value;
    return project is { Length: > 0 } && File.Exists(Path.Combine(project, "appsettings.json")) ? project : AppContext.BaseDirectory;
}
