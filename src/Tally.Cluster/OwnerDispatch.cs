using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Tally.Server;

namespace Tally.Cluster;

/// <summary>
/// Serves a forwarded request through this node's own ASP.NET Core pipeline, in-process: the same middleware and
/// endpoints as a request from a socket, with the caller the receiving node authenticated. The pipeline is the one the
/// host hands its server when it starts (<see cref="CapturingServer"/>), as ASP.NET Core's own in-memory test server
/// takes it.
/// </summary>
internal sealed class OwnerDispatch
{
    private Func<IFeatureCollection, Task>? _pipeline;

    internal void Started(Func<IFeatureCollection, Task> pipeline) => _pipeline = pipeline;

    public async Task<ForwardedResponse> ServeAsync(ForwardedRequest request)
    {
        var pipeline = _pipeline ?? throw new InvalidOperationException("The HTTP pipeline has not started yet.");
        var headers = new HeaderDictionary();
        foreach (var header in request.Headers)
        {
            headers[header[0]] = new StringValues(header[1..]);
        }
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Method = request.Method,
            Scheme = request.Scheme,
            PathBase = request.PathBase,
            Path = request.Path,
            QueryString = request.QueryString,
            RawTarget = request.PathBase + request.Path + request.QueryString,
            Protocol = "HTTP/1.1",
            Headers = headers,
            Body = new MemoryStream(request.Body, writable: false),
        });
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature
        {
            RemoteIpAddress = IPAddress.TryParse(request.RemoteIp, out var remote) ? remote : IPAddress.Loopback,
            LocalIpAddress = IPAddress.Loopback,
        });
        var response = new BufferedResponse();
        features.Set<IHttpResponseFeature>(response);
        features.Set<IHttpResponseBodyFeature>(response);
        features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature());
        features.Set(new OwnerRequest(new Caller(request.KeyId, request.Tenant, request.Role)));
        await pipeline(features);
        await response.CompleteAsync();
        return new ForwardedResponse
        {
            Status = response.StatusCode,
            Headers = [.. response.Headers.Select(h => (string[])[h.Key, .. h.Value.Select(v => v ?? "")])],
            Body = response.Bytes(),
        };
    }

    /// <summary>
    /// The host's server (Kestrel) as it is, except that the application it is started with is also kept for
    /// <see cref="OwnerDispatch"/>: one pipeline serves sockets and forwarded requests alike.
    /// </summary>
    internal sealed class CapturingServer(IServer inner, OwnerDispatch dispatch) : IServer
    {
        public IFeatureCollection Features => inner.Features;

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull
        {
            dispatch.Started(async features =>
            {
                var context = application.CreateContext(features);
                Exception? failure = null;
                try
                {
                    await application.ProcessRequestAsync(context);
                }
                catch (Exception e)
                {
                    failure = e;
                    throw;
                }
                finally
                {
                    application.DisposeContext(context, failure);
                }
            });
            return inner.StartAsync(application, cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
