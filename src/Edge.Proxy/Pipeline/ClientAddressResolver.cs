using System.Net;
using Microsoft.AspNetCore.Connections.Features;
using Edge.Proxy.Configuration;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The one rule for "who is the client", used by the per-IP rate-limit key <c>{ip}</c>, the audit record's client IP
/// and the forwarding headers sent to the backend. The client is the connection's remote address, unless that address
/// is in <c>Edge:TrustedProxies</c>: then <c>X-Forwarded-For</c> is read from the right, skipping trusted hops, and the
/// first untrusted address is the client (the left-most entries are whatever the original client chose to send).
/// </summary>
internal sealed class ClientAddressResolver
{
    private readonly IPNetwork[] _trusted;

    public ClientAddressResolver(EdgeHostOptions options)
    {
        _trusted = ParseTrustedProxies(options.TrustedProxies);
    }

    public bool HasTrustedProxies => _trusted.Length > 0;

    public ClientAddress Resolve(HttpContext context)
    {
        var remote = Normalize(context.Connection.RemoteIpAddress);
        if (remote is null || !IsTrusted(remote))
        {
            return new ClientAddress(remote, ViaTrustedProxy: false);
        }

        var client = remote;
        var forwardedFor = context.Request.Headers[ForwardingHeaders.XForwardedFor];
        for (var v = forwardedFor.Count - 1; v >= 0; v--)
        {
            // From the right, entry by entry: only the hops up to the client are read, and what a client put left of its
            // proxy's hop (thousands of entries, up to Kestrel's header limit) was split into a string each per request.
            var rest = (forwardedFor[v] ?? "").AsSpan();
            while (!rest.IsEmpty)
            {
                var comma = rest.LastIndexOf(',');
                var entry = rest[(comma + 1)..].Trim();
                rest = comma < 0 ? [] : rest[..comma];
                if (entry.IsEmpty)
                {
                    continue;
                }

                if (!TryParseHop(entry, out var hop))
                {
                    // A hop nobody can vouch for ends the chain: the last address a trusted proxy reported is used.
                    return new ClientAddress(client, ViaTrustedProxy: true);
                }

                client = hop;
                if (!IsTrusted(hop))
                {
                    return new ClientAddress(client, ViaTrustedProxy: true);
                }
            }
        }

        return new ClientAddress(client, ViaTrustedProxy: true);
    }

    /// <summary>
    /// The client address as text. A direct HTTP/1.x client's address is formatted once per connection and kept in the
    /// connection's items: every request on a keep-alive connection has the same remote address. Only HTTP/1.x, whose
    /// requests on one connection run one after another; HTTP/2 and HTTP/3 streams run concurrently, and the items
    /// dictionary is not safe for concurrent writes.
    /// </summary>
    public static string? Format(HttpContext context, in ClientAddress client)
    {
        if (client.Ip is null)
        {
            return null;
        }

        var remote = context.Connection.RemoteIpAddress;
        var protocol = context.Request.Protocol;
        if (client.ViaTrustedProxy
            || !(HttpProtocol.IsHttp11(protocol) || HttpProtocol.IsHttp10(protocol))
            || (context.Features[typeof(IConnectionItemsFeature)] as IConnectionItemsFeature)?.Items is not { } items)
        {
            return client.Ip.ToString();
        }

        if (items.TryGetValue(FormattedAddressKey, out var cached) && cached is FormattedAddress formatted && ReferenceEquals(formatted.Remote, remote))
        {
            return formatted.Text;
        }

        var text = client.Ip.ToString();
        items[FormattedAddressKey] = new FormattedAddress(remote, text);
        return text;
    }

    private static readonly object FormattedAddressKey = new();

    private sealed record FormattedAddress(IPAddress? Remote, string Text);

    public bool IsTrusted(IPAddress address)
    {
        foreach (var network in _trusted)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    public static IPAddress? Normalize(IPAddress? address) =>
        address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    /// <summary>
    /// The client as the <c>{ip}</c> key of rate limits and ban rules counts it: an IPv4 address as is; an IPv6 address
    /// as its /64 network (<c>2001:db8::7</c> is <c>2001_db8__</c>). A /64 is what one subscriber gets (RFC 6177, every
    /// ISP and cloud VM), and its owner picks any of its 2^64 addresses at will: counted per address, a client changing
    /// address on every request never reached a limit or a threshold, and walked out of any ban. Cloudflare's rate
    /// limiting, fail2ban's and CrowdSec's IPv6 guidance count the /64 for the same reason. IPv6 colons become '_'.
    /// </summary>
    public static string IpKey(string ip)
    {
        if (ip.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(ip, out var address)
            && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !address.IsIPv4MappedToIPv6)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out _);
            bytes[8..].Clear();
            ip = new IPAddress(bytes).ToString();
        }

        return Edge.Configuration.RateLimiting.RateLimitKeyTemplate.Encode(ip.Replace(':', '_'));
    }

    /// <summary>Parses <c>Edge:TrustedProxies</c>: CIDR ranges or single addresses separated by ',' or ';'.</summary>
    public static IPNetwork[] ParseTrustedProxies(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return [];
        }

        var networks = new List<IPNetwork>();
        foreach (var entry in value.Split([',', ';'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (IPNetwork.TryParse(entry, out var network))
            {
                // Clients are compared as IPv4 (Normalize): ::ffff:10.0.0.0/104 written for a dual-stack listener matched
                // no one, and the proxy's forwarding headers were dropped as a client's.
                networks.Add(network.BaseAddress.IsIPv4MappedToIPv6 && network.PrefixLength >= 96
                    ? new IPNetwork(network.BaseAddress.MapToIPv4(), network.PrefixLength - 96)
                    : network);
            }
            else if (IPAddress.TryParse(entry, out var single))
            {
                single = Normalize(single)!;
                networks.Add(new IPNetwork(single, single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                throw new InvalidOperationException($"Edge:TrustedProxies entry '{entry}' is not a CIDR range (10.0.0.0/8) or an IP address.");
            }
        }

        return [.. networks];
    }

    private static bool TryParseHop(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Length > MaxHopLength)
        {
            return false;
        }

        // A zone (fe80::1%eth0, %3) names an interface of the host that wrote the hop, the proxy's, not one of the edge's:
        // kept, the audit record and X-Real-IP named the client with a zone the edge's host may not have.
        Span<char> withoutZone = stackalloc char[MaxHopLength];
        scoped ReadOnlySpan<char> hop = text;
        var zone = text.IndexOf('%');
        if (zone >= 0 && text.Contains(':'))
        {
            text[..zone].CopyTo(withoutZone);
            var length = zone;
            var end = text[zone..].IndexOf(']');
            if (end >= 0)
            {
                text[(zone + end)..].CopyTo(withoutZone[zone..]);
                length += text.Length - zone - end;
            }

            hop = withoutZone[..length];
        }

        if (IPAddress.TryParse(hop, out var parsed) || (IPEndPoint.TryParse(hop, out var endPoint) && (parsed = endPoint.Address) is not null))
        {
            address = Normalize(parsed)!;
            return true;
        }

        return false;
    }

    /// <summary>Longer than any address with a port and a zone ("[" + 45 + "%" + an interface name + "]:65535"): no hop.</summary>
    private const int MaxHopLength = 128;
}

/// <summary>The resolved client address, and whether it was taken from a trusted proxy's <c>X-Forwarded-For</c>.</summary>
internal readonly record struct ClientAddress(IPAddress? Ip, bool ViaTrustedProxy);
