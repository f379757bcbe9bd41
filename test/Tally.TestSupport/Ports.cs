using System.Net;
using System.Net.Sockets;

namespace Tally.TestSupport;

public static class Ports
{
    /// <summary>A loopback port nothing listens on (free a moment ago), for a child that must be told its port up front.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
