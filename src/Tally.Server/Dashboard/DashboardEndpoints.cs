using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tally.Storage;

namespace Tally.Server.Dashboard;

/// <summary>
/// The web dashboard: its static files (embedded in this assembly, so <c>tally serve</c> needs nothing beside it and
/// nothing from the internet) and the cookie sign-in that lets the page call the read endpoints.
/// </summary>
public static class DashboardEndpoints
{
    private const string ScriptFolder = "wwwroot/js/";

    /// <summary>The page, its style and icon, and every module of its script (<c>wwwroot/js/*.js</c> at <c>/dashboard/js/</c>).</summary>
    private static readonly Dictionary<string, (string Resource, string ContentType)> Files = new Dictionary<string, (string, string)>(StringComparer.Ordinal)
    {
        ["/"] = ("wwwroot/index.html", "text/html; charset=utf-8"),
        ["/dashboard/app.css"] = ("wwwroot/app.css", "text/css; charset=utf-8"),
        ["/favicon.svg"] = ("wwwroot/favicon.svg", "image/svg+xml"),
    }.Concat(Assembly.GetExecutingAssembly().GetManifestResourceNames()
        .Where(r => r.StartsWith(ScriptFolder, StringComparison.Ordinal) && r.EndsWith(".js", StringComparison.Ordinal))
        .Select(r => KeyValuePair.Create("/dashboard/js/" + r[ScriptFolder.Length..], (r, "text/javascript; charset=utf-8"))))
        .ToDictionary(StringComparer.Ordinal);

    // Everything the page loads comes from this server: no inline script, no third party.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static IServiceCollection AddDashboard(this IServiceCollection services) => services.AddSingleton<DashboardSessions>();

    public static RouteGroupBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        foreach (var (path, (resource, type)) in Files)
        {
            var asset = StaticAsset.Of(Read(resource), type);
            app.MapGet(path, (HttpContext http) =>
            {
                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                return asset.Serve(http);
            }).ExcludeFromDescription();
        }

        var group = app.MapGroup("/dashboard/session").WithTags("Dashboard");
        group.MapPost("", async Task<Results<Ok<SignedIn>, ProblemHttpResult>> (HttpContext http, ApiKeys keys, DashboardSessions sessions, FailedAuthLimiter failures, IOptions<TallyOptions> options) =>
        {
            var body = await JsonBody.ReadAsync<SignInRequest>(http, 4096);
            if (!body.IsOk)
            {
                return body.Error;
            }
            if (keys.Resolve(body.Value.Key?.Trim() ?? "") is not { } caller)
            {
                // A sign-in is a guess at a key like a bearer header is, so it draws on the same allowance.
                return failures.Failed(http)
                    ?? Problems.Status(StatusCodes.Status401Unauthorized, "Unauthorized", "That key is not valid (unknown or revoked).");
            }
            if (caller.Role is not (ApiRole.Read or ApiRole.Admin))
            {
                return Problems.Status(StatusCodes.Status403Forbidden, "Forbidden",
                    $"The dashboard needs a tenant key with role read or admin; this key is '{caller.Role.ToWire()}'.");
            }
            if (sessions.Create(caller) is not { } token)
            {
                return Problems.Status(StatusCodes.Status503ServiceUnavailable, "Too many dashboard sessions",
                    $"The server holds its limit of {sessions.MaxSessions} signed-in dashboard sessions (Tally:Dashboard:MaxSessions). "
                    + "Try again when some sign out or expire.");
            }
            http.Response.Cookies.Append(DashboardSessions.CookieName, token, SessionCookie(http, options.Value.Dashboard, DashboardSessions.MaxLifetime));
            return TypedResults.Ok(new SignedIn(caller.Tenant!, caller.Role.ToWire()));
        }).Accepts<SignInRequest>("application/json").ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(429).ProducesProblem(503)
            .WithSummary("Sign in to the dashboard with a read or admin key: sets an HttpOnly session cookie.");
        // "now" is the server's clock: the page never uses the browser's for figures (run-rate, active users).
        // Without a cookie the page was never signed in: a plain "no" (200), so that loading the sign-in screen logs no
        // error in the browser. A cookie whose session has ended is a 401, like any read with it.
        group.MapGet("", Results<Ok<SessionState>, ProblemHttpResult> (HttpContext http, DashboardSessions sessions, TimeProvider time) =>
            !http.Request.Cookies.TryGetValue(DashboardSessions.CookieName, out var token) ? TypedResults.Ok(new SessionState(false))
            : sessions.Resolve(token) is { } caller ? TypedResults.Ok(new SessionState(true, caller.Tenant, caller.Role.ToWire(), time.GetUtcNow()))
            : Problems.Status(StatusCodes.Status401Unauthorized, "Unauthorized", "Not signed in: the session has ended."))
            .WithSummary("Whether the page is signed in, as whom, and the server's time.");
        group.MapDelete("", (HttpContext http, DashboardSessions sessions, IOptions<TallyOptions> options) =>
        {
            if (http.Request.Cookies.TryGetValue(DashboardSessions.CookieName, out var token))
            {
                sessions.End(token);
            }
            http.Response.Cookies.Delete(DashboardSessions.CookieName, SessionCookie(http, options.Value.Dashboard, null));
            return TypedResults.NoContent();
        }).WithSummary("Sign out: ends the session on the server and clears the cookie.");
        return group;
    }

    /// <summary>
    /// The session cookie's attributes. <c>Secure</c> per <see cref="DashboardOptions.SecureCookie"/>: in Auto, when the
    /// request is HTTPS (over TLS to Tally, or per <c>X-Forwarded-Proto</c> from a proxy in Tally:TrustedProxies) or to
    /// a loopback host, which browsers treat as a secure context even over plain HTTP. Plain HTTP to any other host
    /// gets no flag, because a browser would drop a Secure cookie set there and the dashboard could not sign in.
    /// </summary>
    internal static CookieOptions SessionCookie(HttpContext http, DashboardOptions dashboard, TimeSpan? maxAge) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = dashboard.SecureCookie == SecureCookie.Always || http.Request.IsHttps || IsLoopback(http),
        Path = "/",
        MaxAge = maxAge,
        IsEssential = true,
    };

    private static bool IsLoopback(HttpContext http) =>
        http.Request.Host.Host is "localhost" || (IPAddress.TryParse(http.Request.Host.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private static byte[] Read(string resource)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The dashboard file '{resource}' is not embedded in the server assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
