using System.Net;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.ThreatProtection;

/// <summary>Whose ban it is (<see cref="BanSubject"/>), for a ban a rule started and for one an operator added.</summary>
internal static class BanSubjects
{
    /// <summary>The subject of the request whose refusal was counted: the same principal, address and tenant as its decision record.</summary>
    public static BanSubject Of(HttpContext http, EdgeRequestFeature request) =>
        new(http.GetIdentity()?.Principal, request.ClientIp, http.GetTenant()?.Tenant);

    /// <summary>
    /// A manual ban has no request behind it. The principal the operator named is its subject; without one, the address the
    /// key holds: the whole key (<c>203.0.113.7</c>, an IPv6 /64 <c>2001_db8__</c>, read as <c>2001:db8::</c>) or one of its
    /// ':'-separated parts (<c>acme:203.0.113.7</c>), in the canonical text erasure takes. Null when neither names anyone.
    /// </summary>
    public static BanSubject? ForManual(string key, string? principal, string? tenant)
    {
        if (principal is not null)
        {
            return new BanSubject(principal, null, tenant);
        }

        if (AddressOf(key) is { } whole)
        {
            return new BanSubject(null, whole, tenant);
        }

        foreach (var part in key.Split(':'))
        {
            if (AddressOf(part) is { } address)
            {
                return new BanSubject(null, address, tenant);
            }
        }

        return null;
    }

    /// <summary>The address a rendered <c>{ip}</c> part stands for, when it is one exactly as <c>{ip}</c> renders it.</summary>
    internal static string? AddressOf(string part)
    {
        var text = part.Replace('_', ':');
        if (!IPAddress.TryParse(text, out var address))
        {
            return null;
        }

        // Exactly as {ip} renders it: "1" parses as 0.0.0.1 and a whole IPv6 address renders as its /64, neither is a rendered part.
        var canonical = ClientAddressResolver.Normalize(address)!.ToString();
        return string.Equals(ClientAddressResolver.IpKey(canonical), part, StringComparison.Ordinal) ? canonical : null;
    }
}
