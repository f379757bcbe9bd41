using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace Tally.Cli;

/// <summary>
/// Checks, before the server starts, that the addresses it is told to listen on are free. Kestrel would find out too,
/// but only after the ledger is open, and it says so with two stack traces; this says it in one line that names the
/// address and what to do. A port taken between this check and the start is still caught (and reported) by the caller.
/// </summary>
internal static class ListenAddresses
{
    /// <summary>ASP.NET Core's own default when neither --urls, ASPNETCORE_URLS nor Kestrel endpoints say otherwise.</summary>
    private const string AspNetDefault = "http://localhost:5000";

    /// <summary>The first configured address that cannot be bound, and why; null when all are free or cannot be checked.</summary>
    public static string? FirstUnavailable(IConfiguration configuration)
    {
        if (configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            return null;  // endpoints with certificates and protocols: Kestrel's own report is the better one
        }
        var urls = configuration["urls"] is { Length: > 0 } configured ? configured : AspNetDefault;
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (EndPointOf(url) is { } endPoint && BindError(endPoint) is { } error)
            {
                return $"{url}: {error}";
            }
        }
        return null;
    }

    private static IPEndPoint? EndPointOf(string url)
    {
        // "http://*:5000" and "http://+:5000" are not URIs .NET parses; they mean every address, as 0.0.0.0 does.
        var normalized = url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Port <= 0)
        {
            return null;  // port 0 (any free port) or a form Kestrel will judge itself
        }
        var host = uri.Host.Trim('[', ']');
        var address = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : IPAddress.IPv6Any;  // Kestrel listens on every address for a host name it is given
        return new IPEndPoint(address, uri.Port);
    }

    private static string? BindError(IPEndPoint endPoint)
    {
        try
        {
            using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(endPoint);
            return null;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return "the address is already in use (is another Tally running?)";
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            return "permission denied (ports below 1024 need privileges)";
        }
        catch (SocketException)
        {
            return null;  // e.g. no IPv6 on this machine: leave the verdict to Kestrel
        }
    }
}
