using System.Net;
using System.Net.Sockets;

namespace Edge.Shared;

/// <summary>
/// Whether a request's Host names this machine in a form no DNS answer can produce: the defence against DNS rebinding,
/// where a web page in a browser on this host points its own name at 127.0.0.1 and then calls a local listener
/// same-origin, but still sends its own name as Host. Shared by the edge's management port and the audit writer's
/// token-less ingest.
/// </summary>
internal static class RebindingSafeHost
{
    /// <summary>
    /// True for an IP literal (IPv4 only in its dotted form: browsers rewrite <c>0x7f.1</c> or <c>2130706433</c> to it
    /// before they send a Host; IPv6 in brackets) and for <c>localhost</c>, which browsers resolve to loopback themselves.
    /// <paramref name="host"/> is the host part without the port.
    /// </summary>
    public static bool IsLiteralOrLocalhost(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            return IPAddress.TryParse(host.AsSpan(1, host.Length - 2), out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6;
        }

        return IPAddress.TryParse(host, out var address)
            && (address.AddressFamily == AddressFamily.InterNetworkV6 || string.Equals(address.ToString(), host, StringComparison.Ordinal));
    }
}
