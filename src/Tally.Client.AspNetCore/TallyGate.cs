using System.Globalization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Tally.Client.AspNetCore;

/// <summary>How the gate finds who is asking and on which device. Configure with <c>services.Configure&lt;TallyGateOptions&gt;(...)</c>.</summary>
public sealed class TallyGateOptions
{
    /// <summary>The cookie that names a browser as a device (R2: device mode counts per user and device) when <see cref="Device"/> is not set.</summary>
    public const string DeviceCookie = "tally-device";

    /// <summary>The user Tally meters; default the authenticated name. Null means nobody is signed in: 401.</summary>
    public Func<HttpContext, string?> User { get; set; } = http => http.User.Identity?.IsAuthenticated == true ? http.User.Identity.Name : null;

    /// <summary>The device; default a random id kept in the <see cref="DeviceCookie"/> cookie, one per browser.</summary>
    public Func<HttpContext, string?>? Device { get; set; }
}

/// <summary><c>.RequireTallyAccess(app: ...)</c> on an endpoint.</summary>
public static class TallyGateExtensions
{
    /// <summary>The decision of the request's access check, for the endpoint to read.</summary>
    public const string DecisionItem = "tally.decision";

    /// <summary>
    /// Asks Tally (metering the engagement) before the endpoint runs: <paramref name="app"/> is the app's name, or
    /// <c>{name}</c> for a route value; <paramref name="action"/> is what the request does (R4). A Professional-only
    /// action (editing or publishing a sheet or an app) is one of the restricted actions, which Tally denies
    /// <c>not-permitted</c> to anyone without a Professional seat. Denied: 403 problem+json with the reason and, when Tally
    /// says when access returns, <c>Retry-After</c>; nobody signed in: 401.
    /// </summary>
    public static TBuilder RequireTallyAccess<TBuilder>(this TBuilder builder, string app, string action = TallyActions.OpenApp) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(app);
        ArgumentException.ThrowIfNullOrWhiteSpace(action);
        return builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var options = http.RequestServices.GetService<IOptions<TallyGateOptions>>()?.Value ?? new TallyGateOptions();
            if (options.User(http) is not { Length: > 0 } user)
            {
                // With an authentication scheme that can challenge (a cookie's sign-in page, say), the user is sent to sign in.
                return http.RequestServices.GetService<IAuthenticationSchemeProvider>() is { } schemes
                    && await schemes.GetDefaultChallengeSchemeAsync().ConfigureAwait(false) is not null
                    ? Results.Challenge()
                    : Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Sign in first", detail: "This page is licensed per user: sign in to use it.");
            }
            var name = app.StartsWith('{') && app.EndsWith('}') ? http.GetRouteValue(app[1..^1])?.ToString() : app;
            if (string.IsNullOrEmpty(name))
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such app");
            }
            var device = options.Device is { } pick ? pick(http) : DeviceFromCookie(http);
            var client = http.RequestServices.GetRequiredService<TallyClient>();
            var decision = await client.CheckAccessAsync(new TallyEvent(user, name, action, device), http.RequestAborted).ConfigureAwait(false);
            http.Items[DecisionItem] = decision;
            if (decision.Allowed)
            {
                return await next(context).ConfigureAwait(false);
            }
            if (decision.RetryAfter is { } after)
            {
                var seconds = Math.Max(1, (long)Math.Ceiling((after - (http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow()).TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Access denied by the license",
                detail: Explain(decision.Reason), extensions: new Dictionary<string, object?>
                {
                    ["reason"] = decision.Reason,
                    ["retryAfter"] = decision.RetryAfter,
                    ["offline"] = decision.Offline,
                    ["app"] = name,
                    ["action"] = action,
                });
        });
    }

    /// <summary>The reason in words an end user understands.</summary>
    public static string Explain(string? reason) => reason switch
    {
        "pool-exhausted" => "This month's capacity is used up; access returns when the next period starts.",
        "user-cap-reached" => "You have used your monthly allowance of minutes.",
        "not-permitted" => "This action needs a Professional license.",
        "not-licensed" => "You have no license for this app.",
        "license-expired" => "The license has expired.",
        "offline" => "The license service cannot be reached; try again shortly.",
        "offline-grace-exhausted" => "The license service cannot be reached and the offline allowance is used up; try again shortly.",
        "offline-restricted" => "The license service cannot be reached, and this action needs it to confirm your Professional license.",
        _ => "The license does not allow this now.",
    };

    private static string DeviceFromCookie(HttpContext http)
    {
        if (http.Request.Cookies.TryGetValue(TallyGateOptions.DeviceCookie, out var id) && id is { Length: > 0 and <= 64 })
        {
            return id;
        }
        id = Guid.NewGuid().ToString("N");
        http.Response.Cookies.Append(TallyGateOptions.DeviceCookie, id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = http.Request.IsHttps,
            MaxAge = TimeSpan.FromDays(400),
        });
        return id;
    }
}
