using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Tally.Server;

/// <summary>
/// Limits failed authentication per client address with the framework's token-bucket limiter
/// (System.Threading.RateLimiting, what ASP.NET Core's rate-limiting middleware runs on). Only a request whose key did
/// not authenticate draws a token, after the key was checked; a valid key never touches the limiter, so it is never
/// slowed, even from an address that is being refused. The middleware is not used because it decides before the
/// endpoint runs, when whether the key is valid is not known yet (and a dashboard sign-in's key is in its body).
/// </summary>
public sealed class FailedAuthLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress>? _limiter;
    private readonly TallyMetrics _metrics;

    public FailedAuthLimiter(IOptions<TallyOptions> options, TallyMetrics metrics)
    {
        _metrics = metrics;
        var o = options.Value.FailedAuth;
        if (o.Limit == 0)
        {
            return;
        }
        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = o.Limit,
            // One attempt back every window/limit: a burst of Limit, then Limit per window at most.
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(o.WindowSeconds) / o.Limit,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetTokenBucketLimiter(ip, _ => bucket));
    }

    /// <summary>
    /// Records one failed attempt by this request's client. Null while the client is within its allowance (answer 401 as
    /// usual); a 429 with <c>Retry-After</c> once it is spent.
    /// </summary>
    public ProblemHttpResult? Failed(HttpContext http)
    {
        if (_limiter is null)
        {
            _metrics.AuthFailure(limited: false);
            return null;
        }
        using var lease = _limiter.AttemptAcquire(ClientOf(http));
        _metrics.AuthFailure(limited: !lease.IsAcquired);
        if (lease.IsAcquired)
        {
            return null;
        }
        var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds));
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Status(StatusCodes.Status429TooManyRequests, "Too many failed attempts",
            $"This address sent too many keys that were not valid; try again in {seconds} s. Requests with a valid key are not limited.");
    }

    /// <summary>
    /// The address a client is counted by: IPv4 as is, IPv6 by its /64 (one host is usually given a whole /64, so
    /// counting single addresses would let it rotate through them).
    /// </summary>
    public static IPAddress ClientOf(HttpContext http)
    {
        var ip = http.Connection.RemoteIpAddress ?? IPAddress.IPv6None;
        if (ip.IsIPv4MappedToIPv6)
        {
            return ip.MapToIPv4();
        }
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return ip;
        }
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    public void Dispose() => _limiter?.Dispose();
}
