using System.Net;
using System.Net.Sockets;

namespace Edge.Testing;

/// <summary>Free loopback TCP ports for listeners that must be told their port up front.</summary>
public static class FreePort
{
    private static readonly HashSet<int> Handed = [];

    public static int Next()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            lock (Handed)
            {
                // The OS may hand the same ephemeral port out twice before either test binds it.
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
