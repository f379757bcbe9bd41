using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tally.Metering;

namespace Tally.Server;

/// <summary>
/// <c>Tally:TrustedProxies</c>: the reverse proxies whose <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are
/// believed. Only requests whose TCP peer is one of them have those headers applied, so the client address (which the
/// failed-attempt limit counts by) and the scheme (which decides the session cookie's <c>Secure</c>) cannot be chosen
/// by a client that talks to Tally directly.
/// </summary>
public sealed record TrustedProxies(IReadOnlyList<IPAddress> Addresses, IReadOnlyList<System.Net.IPNetwork> Networks)
{
    public bool IsEmpty => Addresses.Count == 0 && Networks.Count == 0;

    /// <summary>None: forwarded headers are believed from nobody.</summary>
    public static TrustedProxies None { get; } = new([], []);

    /// <summary>Reads a comma-separated list of addresses and CIDR networks, or says which entry is wrong.</summary>
    public static Outcome<TrustedProxies, string> Parse(string? text)
    {
        var addresses = new List<IPAddress>();
        var networks = new List<System.Net.IPNetwork>();
        foreach (var entry in (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry.Contains('/', StringComparison.Ordinal) && System.Net.IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else if (!entry.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(entry, out var address))
            {
                addresses.Add(address);
            }
            else
            {
                return $"'{entry}' is not an IP address or a CIDR network (e.g. 10.0.0.5 or 10.1.0.0/16)";
            }
        }
        return new TrustedProxies(addresses, networks);
    }

    /// <summary>
    /// Makes ASP.NET Core's forwarded-headers options believe these proxies only. The same options serve the
    /// middleware ASPNETCORE_FORWARDEDHEADERS_ENABLED adds, so with proxies listed that variable cannot widen the trust
    /// to every client (alone it believes anyone; <see cref="TallyServer"/> warns about that).
    /// </summary>
    public static void AddTrustedProxies(IServiceCollection services) =>
        services.AddOptions<ForwardedHeadersOptions>().PostConfigure<IOptions<TallyOptions>>((options, tally) =>
        {
            if (Parse(tally.Value.TrustedProxies).Value is not { IsEmpty: false } proxies)
            {
                return;
            }
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            // No cap on entries: each hop is believed only while it comes from a listed proxy, so a chain of them
            // (load balancer behind a CDN) resolves to the first address none of them owns.
            options.ForwardLimit = null;
            // ASP.NET Core trusts loopback by default; here only what the operator listed counts.
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var address in proxies.Addresses)
            {
                options.KnownProxies.Add(address);
            }
            foreach (var network in proxies.Networks)
            {
                options.KnownIPNetworks.Add(network);
            }
        });

    /// <summary>Applies the forwarded headers of trusted proxies; with none configured, does nothing.</summary>
    public void Use(WebApplication app)
    {
        if (!IsEmpty)
        {
            app.UseForwardedHeaders();
        }
    }
}
