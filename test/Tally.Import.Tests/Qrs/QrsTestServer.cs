using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Tally.Import.Tests.Qrs;

/// <summary>One analyzer-capacity use the test site holds (no stop time: still running).</summary>
public sealed record TestUse(Guid Id, DateTimeOffset Modified, DateTimeOffset Start, DateTimeOffset? Stop, string Directory, string UserId, string? SessionId);

/// <summary>One professional or analyzer allocation the test site holds.</summary>
public sealed record TestAllocation(string Directory, string UserId, DateTimeOffset Created, bool Quarantined = false);

/// <summary>What the test site saw of one request.</summary>
public sealed record SeenRequest(string Path, string? Filter, string? XrfkeyParameter, string? XrfkeyHeader, string? QlikUser, string? ProxyUser, bool HadClientCertificate);

/// <summary>
/// A QSEoW site's QRS on a loopback HTTPS port, as strict as the real one where Tally depends on it: the client
/// certificate must chain to the site's CA (or, in header mode, behind a virtual proxy prefix, the proxy's header must
/// name a user), the Xrfkey parameter and header must be the same 16 alphanumerics (400 otherwise), and the usage
/// filter is the QRS's <c>modifiedDate ge '...'</c>. Answers carry properties Tally does not read, as the QRS's do.
/// </summary>
public sealed partial class QrsTestServer : IAsyncDisposable
{
    public const string ProxyPrefix = "/tally";
    public const string ProxyHeader = "X-Tally-Proxy-User";

    private readonly WebApplication _app;
    private readonly string _prefix;

    private QrsTestServer(WebApplication app, string prefix)
    {
        _app = app;
        _prefix = prefix;
    }

    public List<TestUse> Uses { get; } = [];
    public List<TestAllocation> Professional { get; } = [];
    public List<TestAllocation> Analyzer { get; } = [];
    public ConcurrentQueue<SeenRequest> Seen { get; } = new();

    /// <summary>The address Tally is configured with: the QRS port, or the virtual proxy's prefix.</summary>
    public Uri BaseAddress => new(_app.Urls.First() + _prefix + "/");

    /// <summary>A site whose QRS demands a client certificate issued by <paramref name="certificates"/>' root.</summary>
    public static Task<QrsTestServer> StartWithCertificatesAsync(TestCertificates certificates) =>
        StartAsync(certificates, ClientCertificateMode.RequireCertificate, "");

    /// <summary>A site reached through a virtual proxy with header authentication (no client certificate).</summary>
    public static Task<QrsTestServer> StartWithHeaderProxyAsync(TestCertificates certificates) =>
        StartAsync(certificates, ClientCertificateMode.NoCertificate, ProxyPrefix);

    private static async Task<QrsTestServer> StartAsync(TestCertificates certificates, ClientCertificateMode mode, string prefix)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.UseUrls("https://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
        {
            https.ServerCertificate = certificates.Server;
            https.ClientCertificateMode = mode;
            https.ClientCertificateValidation = (certificate, _, _) => certificates.IsIssuedBySite(certificate);
        }));
        var app = builder.Build();
        var server = new QrsTestServer(app, prefix);
        app.Use(server.GuardAsync);
        var qrs = app.MapGroup(prefix + "/qrs/license");
        qrs.MapGet("/analyzertimeaccessusage/full", server.UsesAnswer);
        qrs.MapGet("/analyzertimeaccesstype/full", () => Results.Text(
            """[{"id":"7c2b7f0e-1d1e-4a5b-9a43-7a1f0c8a9e11","name":"Analyzer capacity","assignedMinutes":6000,"usedMinutes":1242,"remainingMinutes":4758,"assignedUnits":1000,"schemaPath":"License.AnalyzerTimeAccessType","privileges":null}]""",
            "application/json"));
        qrs.MapGet("/professionalaccesstype/full", () => Results.Text(Allocations(server.Professional, "License.ProfessionalAccessType"), "application/json"));
        qrs.MapGet("/analyzeraccesstype/full", () => Results.Text(Allocations(server.Analyzer, "License.AnalyzerAccessType"), "application/json"));
        await app.StartAsync();
        return server;
    }

    private async Task GuardAsync(HttpContext http, RequestDelegate next)
    {
        var request = http.Request;
        string? Header(string name) => request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;
        var parameter = request.Query["xrfkey"].FirstOrDefault();
        var header = Header("X-Qlik-Xrfkey");
        var certificate = await http.Connection.GetClientCertificateAsync();
        Seen.Enqueue(new SeenRequest(request.Path, request.Query["filter"].FirstOrDefault(), parameter, header, Header("X-Qlik-User"),
            Header(ProxyHeader), certificate is not null));
        if (parameter is null || parameter != header || !Xrfkey().IsMatch(parameter))
        {
            http.Response.StatusCode = 400;
            await http.Response.WriteAsync("XSRF prevention check failed. Possible XSRF discovered.");
            return;
        }
        var identified = _prefix.Length == 0 ? Header("X-Qlik-User") is not null : Header(ProxyHeader) is not null;
        if (!identified)
        {
            http.Response.StatusCode = 401;
            return;
        }
        await next(http);
    }

    private IResult UsesAnswer(string? filter)
    {
        var (since, until) = (DateTimeOffset.MinValue, DateTimeOffset.MaxValue);
        if (filter is not null)
        {
            var match = ModifiedSince().Match(filter);
            if (!match.Success)
            {
                return Results.Text("Invalid filter", statusCode: 400);
            }
            since = DateTimeOffset.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            if (match.Groups[2].Success)
            {
                until = DateTimeOffset.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            }
        }
        var uses = new JsonArray([.. Uses.Where(u => u.Modified >= since && u.Modified < until).Select(Use)]);
        return Results.Text(uses.ToJsonString(), "application/json");
    }

    private static JsonObject Use(TestUse use) => new()
    {
        ["id"] = use.Id,
        ["createdDate"] = Qrs(use.Start),
        ["modifiedDate"] = Qrs(use.Modified),
        ["modifiedByUserName"] = "INTERNAL\\sa_repository",
        ["useStartTime"] = Qrs(use.Start),
        // The QRS writes a date that is not set yet as SQL Server's smallest one, not as null.
        ["useStopTime"] = use.Stop is { } stop ? Qrs(stop) : NotSet,
        ["latestActivity"] = Qrs(use.Stop ?? use.Start),
        ["hostName"] = "qlik.example.com",
        ["serverNodeConfigurationId"] = "0c7fa0a5-5ac3-4a1f-8bb1-0d0f6b0b5d10",
        ["user"] = new JsonObject { ["id"] = Guid.NewGuid(), ["userId"] = use.UserId, ["userDirectory"] = use.Directory, ["name"] = use.UserId },
        ["sessions"] = use.SessionId is null ? new JsonArray() : new JsonArray(new JsonObject { ["id"] = Guid.NewGuid(), ["sessionID"] = use.SessionId }),
        ["analyzerTimeAccessType"] = new JsonObject { ["id"] = "7c2b7f0e-1d1e-4a5b-9a43-7a1f0c8a9e11", ["name"] = "Analyzer capacity" },
        ["schemaPath"] = "License.AnalyzerTimeAccessUsage",
        ["privileges"] = null,
    };

    private static string Allocations(IEnumerable<TestAllocation> allocations, string schemaPath) => new JsonArray([.. allocations.Select(a => new JsonObject
    {
        ["id"] = Guid.NewGuid(),
        ["createdDate"] = Qrs(a.Created),
        ["modifiedDate"] = Qrs(a.Created),
        ["user"] = new JsonObject { ["id"] = Guid.NewGuid(), ["userId"] = a.UserId, ["userDirectory"] = a.Directory, ["name"] = a.UserId },
        ["lastUsed"] = Qrs(a.Created),
        ["quarantined"] = a.Quarantined,
        ["quarantineEnd"] = NotSet,
        ["deletedUserId"] = "",
        ["deletedUserDirectory"] = "",
        ["schemaPath"] = schemaPath,
    })]).ToJsonString();

    private const string NotSet = "1753-01-01T00:00:00.000Z";

    private static string Qrs(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    [GeneratedRegex("^[0-9A-Za-z]{16}$")]
    private static partial Regex Xrfkey();

    [GeneratedRegex("^modifiedDate ge '([^']+)'(?: and modifiedDate lt '([^']+)')?$")]
    private static partial Regex ModifiedSince();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
