using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tally.Server;

namespace Tally.Cluster;

/// <summary>
/// The front of a cluster node: a tenant's API request, whichever node it reaches, is served by the tenant's grain
/// (<see cref="ITenantGrain"/>) on the node that owns the tenant. When the owner cannot be reached (it died and the
/// cluster has not declared it dead yet, or the call timed out) the answer is a 503 with Retry-After: whether the owner
/// applied anything is unknown, and the client's retry with the same event ids gets the same decisions.
/// </summary>
internal sealed class GrainRouter(IGrainFactory grains, IOptions<TallyOptions> options, ClusterMetrics metrics, ILogger<GrainRouter> log) : ITenantRouter
{
    /// <summary>Headers that describe one connection, not the request: never carried to the owner nor back.</summary>
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer",
    };

    public async Task ForwardAsync(HttpContext http, Caller caller)
    {
        var request = http.Request;
        // At most one byte past the body limit: the owner's endpoint refuses it as too large, as a single node would.
        var limit = options.Value.MaxBodyBytes + 1;
        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while (body.Length < limit && (read = await request.Body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - body.Length)), http.RequestAborted)) > 0)
        {
            body.Write(buffer, 0, read);
        }
        var forwarded = new ForwardedRequest
        {
            Method = request.Method,
            Scheme = request.Scheme,
            Host = request.Host.Value ?? "",
            PathBase = request.PathBase.Value ?? "",
            Path = request.Path.Value ?? "",
            QueryString = request.QueryString.Value ?? "",
            Headers = [.. request.Headers.Where(h => !HopByHop.Contains(h.Key)).Select(h => (string[])[h.Key, .. h.Value.Select(v => v ?? "")])],
            Body = body.ToArray(),
            RemoteIp = http.Connection.RemoteIpAddress?.ToString(),
            KeyId = caller.KeyId,
            Tenant = caller.Tenant!,
            Role = caller.Role,
        };
        ForwardedResponse answer;
        try
        {
            answer = await grains.GetGrain<ITenantGrain>(caller.Tenant!).HandleAsync(forwarded).WaitAsync(http.RequestAborted);
            metrics.Forwarded(true);
        }
        catch (Exception e) when (e is not OperationCanceledException || !http.RequestAborted.IsCancellationRequested)
        {
            metrics.Forwarded(false);
            log.LogWarning("Tenant {Tenant}'s owner did not answer {Method} {Path}: {Error}", caller.Tenant, request.Method, request.Path, e.Message);
            http.Response.Headers.RetryAfter = "1";
            await Problems.Status(StatusCodes.Status503ServiceUnavailable, "Tenant unavailable",
                "The node that owns this tenant did not answer (it may have just stopped; the cluster moves its tenants within seconds). "
                + "Retry with the same event ids: a retry never charges twice.").ExecuteAsync(http);
            return;
        }
        http.Response.StatusCode = answer.Status;
        foreach (var header in answer.Headers)
        {
            if (!HopByHop.Contains(header[0]))
            {
                http.Response.Headers[header[0]] = new Microsoft.Extensions.Primitives.StringValues(header[1..]);
            }
        }
        // A HEAD answer keeps the owner's Content-Length (of the body a GET would get); 204 and 304 carry no body at all.
        if (HttpMethods.IsHead(request.Method) || answer.Status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        {
            return;
        }
        http.Response.ContentLength = answer.Body.Length;
        await http.Response.Body.WriteAsync(answer.Body, http.RequestAborted);
    }

    public void Wake(string tenant) =>
        _ = grains.GetGrain<ITenantGrain>(tenant).WakeAsync().ContinueWith(
            t => log.LogWarning("Could not wake tenant {Tenant}'s grain: {Error}", tenant, t.Exception?.GetBaseException().Message),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
}
