using System.Net;
using System.Net.Sockets;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// One active ban. <see cref="Rule"/> is the rule whose threshold was crossed, or null for a ban added on the management
/// port; <see cref="Reason"/> is the operator's text or the counted event.
/// </summary>
internal sealed record BanEntry(string Key, DateTimeOffset Until, string? Rule, string Reason)
{
    /// <summary>Whose ban it is, kept so that its lift is audited under the same subject; null when unknown (e.g. stored by an older edge).</summary>
    public BanSubject? Subject { get; init; }

    public bool IsActive(DateTimeOffset now) => Until > now;

    /// <summary>A manual ban of a network (<c>203.0.113.0/24</c>): no rule renders a '/', so any other key is not one.</summary>
    public static bool TryParseNetwork(string key, out IPNetwork network)
    {
        network = default;
        return key.Contains('/', StringComparison.Ordinal) && IPNetwork.TryParse(key, out network);
    }

    /// <summary>
    /// The IPv4 clients <paramref name="network"/> holds, as an IPv4 network, when it is an IPv6 network that holds some of
    /// the IPv4-mapped range <c>::ffff:0:0/96</c>; else null. The edge keys an IPv4 client as its IPv4 address (also one a
    /// dual-stack listener shows as <c>::ffff:203.0.113.9</c>), so <c>::ffff:203.0.113.0/120</c> and <c>::/8</c> matched no
    /// IPv4 client. Edge:TrustedProxies reads such entries the same way (<see cref="ClientAddressResolver.ParseTrustedProxies"/>).
    /// </summary>
    public static IPNetwork? Ipv4Part(IPNetwork network)
    {
        if (network.BaseAddress.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        // By the bits, not IPNetwork.Contains: it does not answer for IPv4-mapped addresses as the bits say.
        Span<byte> bytes = stackalloc byte[16];
        network.BaseAddress.TryWriteBytes(bytes, out _);
        var prefix = network.PrefixLength;
        for (var bit = 0; bit < Math.Min(prefix, 96); bit++)
        {
            var mask = 0x80 >> (bit % 8);
            var mapped = bit >= 80 ? mask : 0;
            if ((bytes[bit / 8] & mask) != mapped)
            {
                return null;
            }
        }

        return prefix > 96 ? new IPNetwork(new IPAddress(bytes[12..]), prefix - 96) : new IPNetwork(IPAddress.Any, 0);
    }

    /// <summary>Whether <paramref name="network"/> holds <paramref name="address"/>, an IPv4 client also by its IPv4-mapped form.</summary>
    public static bool Covers(IPNetwork network, IPAddress address) =>
        network.Contains(address)
        || (address.AddressFamily == AddressFamily.InterNetwork && Ipv4Part(network) is { } ipv4 && ipv4.Contains(address));

    /// <summary>Whole seconds until the ban ends, at least 1 (the value of <c>Retry-After</c>).</summary>
    public long RemainingSeconds(DateTimeOffset now) => Math.Max(1, (long)Math.Ceiling((Until - now).TotalSeconds));
}
