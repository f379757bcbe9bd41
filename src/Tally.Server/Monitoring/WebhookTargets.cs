using System.Net;
using System.Net.Sockets;

namespace Tally.Server.Monitoring;

/// <summary>
/// Which addresses a tenant's webhook may reach. A tenant admin chooses the URL, so without this a webhook is a
/// probe of the server's own network (loopback services, cloud metadata at 169.254.169.254, the private LAN).
/// By default only public unicast addresses are reachable; <see cref="AlertOptions.AllowPrivateWebhookTargets"/>
/// lifts that for on-premises receivers. The check that counts is <see cref="ConnectAsync"/>: it runs on the
/// address a name resolves to at the moment of connecting and connects to exactly that address, so a name that
/// resolves to a public address when the channel is made and to 127.0.0.1 later (DNS rebinding) is still refused.
/// </summary>
public static class WebhookTargets
{
    /// <summary>The only thing a refused delivery tells the tenant: never the address or port it named.</summary>
    public const string RefusedReason = "refused: the target is not a public address";

    // IANA's special-purpose registries: none of these is a receiver on the public internet.
    private static readonly IPNetwork[] NonPublicV4 =
    [
        IPNetwork.Parse("0.0.0.0/8"),        // "this network", 0.0.0.0 reaches the local host
        IPNetwork.Parse("10.0.0.0/8"),
        IPNetwork.Parse("100.64.0.0/10"),    // carrier-grade NAT
        IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"),   // link-local, cloud metadata services
        IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.0.0.0/24"),     // IETF protocol assignments
        IPNetwork.Parse("192.0.2.0/24"),     // documentation
        IPNetwork.Parse("192.88.99.0/24"),   // 6to4 relay anycast (deprecated)
        IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("198.18.0.0/15"),    // benchmarking
        IPNetwork.Parse("198.51.100.0/24"),  // documentation
        IPNetwork.Parse("203.0.113.0/24"),   // documentation
        IPNetwork.Parse("224.0.0.0/4"),      // multicast
        IPNetwork.Parse("240.0.0.0/4"),      // reserved, and 255.255.255.255
    ];

    // IPv6 is allowed only inside global unicast 2000::/3, which leaves out ::, ::1, IPv4-compatible ::a.b.c.d,
    // fc00::/7, fe80::/10, fec0::/10 and ff00::/8 at once; these are the special blocks inside it.
    private static readonly IPNetwork GlobalUnicastV6 = IPNetwork.Parse("2000::/3");

    private static readonly IPNetwork[] NonPublicV6 =
    [
        IPNetwork.Parse("2001::/23"),        // IETF protocol assignments: Teredo, benchmarking, ORCHID
        IPNetwork.Parse("2001:db8::/32"),    // documentation
        IPNetwork.Parse("2002::/16"),        // 6to4: tunnels to any IPv4 address, private ones included
        IPNetwork.Parse("3fff::/20"),        // documentation
    ];

    // NAT64 (RFC 6052): on an IPv6-only network DNS64 hands out these for IPv4-only hosts; judge the IPv4 inside.
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    /// <summary>True for an address a public receiver can have: global unicast, outside every special-purpose block.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return !NonPublicV4.Any(n => n.Contains(address));
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }
        if (Nat64.Contains(address))
        {
            return IsPublic(new IPAddress(address.GetAddressBytes()[12..]));
        }
        return GlobalUnicastV6.Contains(address) && !NonPublicV6.Any(n => n.Contains(address));
    }

    /// <summary>
    /// The address a URL's host is written as, in whatever encoding <see cref="Uri"/> accepted (decimal
    /// <c>2130706433</c>, hex <c>0x7f000001</c>, octal, short <c>127.1</c>, IPv4-mapped IPv6, full-width dots);
    /// null when the host is a name.
    /// </summary>
    public static IPAddress? LiteralAddress(Uri uri)
    {
        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.IdnHost;
        // A trailing dot is the DNS root: "127.0.0.1." is still 127.0.0.1 to a resolver.
        return IPAddress.TryParse(host.EndsWith('.') ? host[..^1] : host, out var address) ? address : null;
    }

    /// <summary>
    /// The connect step of the webhook client: resolves the host, refuses the target unless every address is public
    /// (or private targets are allowed), then connects to the checked addresses themselves, never to the name again.
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, CancellationToken cancel)
    {
        var endpoint = context.DnsEndPoint;
        var host = endpoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancel).ConfigureAwait(false);
        // One non-public answer refuses the name: a resolver that mixes in 127.0.0.1 is not a public receiver.
        if (!allowPrivate && (addresses.Length == 0 || !addresses.All(IsPublic)))
        {
            throw new WebhookRefusedException();
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, cancel).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The webhook client's handler: connects through <see cref="ConnectAsync"/>, never follows a redirect (a 3xx is
    /// a failed delivery: a receiver must not send the signed body on to another address) and ignores any proxy
    /// settings of the environment (through a proxy, the check would see the proxy's address, not the target's).
    /// </summary>
    public static SocketsHttpHandler Handler(bool allowPrivate) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        ConnectCallback = (context, cancel) => ConnectAsync(context, allowPrivate, cancel),
    };
}

/// <summary>A delivery whose message is safe to show the tenant in the alert history (it names no address or port).</summary>
public class AlertDeliveryException(string reason) : Exception(reason);

/// <summary>The webhook's target resolved to a non-public address and private targets are not allowed.</summary>
public sealed class WebhookRefusedException() : AlertDeliveryException(WebhookTargets.RefusedReason);
