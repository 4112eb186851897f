using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Edge.Configuration;

/// <summary>
/// <c>Match.Hosts</c> entries as ASP.NET Core's host matcher reads them: <c>host</c>, <c>host:port</c>,
/// <c>host:*</c>, <c>*.suffix</c>, <c>*</c> or <c>*:port</c>. YARP accepts any non-empty string, but the matcher throws
/// "Could not parse host" for an entry it cannot split (a port that is not a number, an IPv6 literal, a second colon)
/// on every request once the route table is built, so one bad entry answered every route of the edge with an empty
/// 500, and a hot reload applied it. Entries that parse but can never equal a request's Host (a space, a path, a
/// wildcard inside a name, a trailing dot, which the edge removes from the Host before routing) are refused as well, since
/// the route would silently never match.
/// </summary>
internal static class HostPatterns
{
    private const string Examples = "e.g. api.example.com, api.example.com:8443, *.example.com or *";

    // RFC 3986 reg-name characters (unreserved, pct-encoded, sub-delims), as Kestrel accepts them in a Host header.
    private static readonly SearchValues<char> HostCharacters =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()+,;=");

    public static void Validate(IReadOnlyList<string>? hosts, string location, ConfigErrorList errors)
    {
        for (var i = 0; i < (hosts?.Count ?? 0); i++)
        {
            if (hosts![i] is { Length: > 0 } host && Explain(host) is { } problem)
            {
                errors.Add($"{location}[{i}]", $"'{Printable(host)}' {problem}; write a host name, {Examples}");
            }
        }
    }

    /// <summary>Why the entry cannot match, or null when it can. An empty entry is YARP's own error.</summary>
    internal static string? Explain(string entry)
    {
        var colon = entry.IndexOf(':', StringComparison.Ordinal);
        var host = colon < 0 ? entry : entry[..colon];
        if (colon >= 0)
        {
            var port = entry[(colon + 1)..];
            if (entry.StartsWith('[') || (IPAddress.TryParse(entry, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6))
            {
                return "is an IPv6 address, which the host matcher cannot read (it splits at every colon)";
            }

            if (port.Contains(':', StringComparison.Ordinal))
            {
                return "has more than one colon";
            }

            if (port != "*" && !(port.Length is > 0 and <= 5 && port.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0
                && int.Parse(port, CultureInfo.InvariantCulture) is > 0 and <= 65535))
            {
                return "has a port that is not a number from 1 to 65535 (or *)";
            }
        }

        if (host.Length == 0)
        {
            return "has no host before the port (use * for any host)";
        }

        if (host == "*")
        {
            return null;
        }

        var name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        if (name.Contains('*', StringComparison.Ordinal))
        {
            return "has a wildcard that is not a leading '*.' (only a whole first label can be a wildcard)";
        }

        if (name.EndsWith('.'))
        {
            return "ends with a dot, which the edge removes from a request's Host before routing";
        }

        // Non-ASCII is how YARP wants an international name written (it refuses punycode): the request's host is
        // compared in its Unicode form.
        if (name.Length == 0 || name.Any(c => c <= '\x7f' ? !HostCharacters.Contains(c) : char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "holds a character a Host header cannot carry (a space, a control character, '/', '?', '#', '@' or a bracket)";
        }

        return null;
    }

    private static string Printable(string value)
    {
        var text = new StringBuilder(value.Length);
        foreach (var c in value.Length > 100 ? value[..100] : value)
        {
            text.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        }

        return text.ToString();
    }
}
