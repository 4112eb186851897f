namespace Edge.Proxy.Pipeline;

/// <summary>
/// The headers that tell a backend who the client is. Only the edge sets them; a client's copies are kept only when
/// its connection comes from <c>Edge:TrustedProxies</c>. Names are compared with '_' and '-' as equal, because CGI-style
/// backends and some nginx setups read <c>X_Forwarded_For</c> as <c>X-Forwarded-For</c>.
/// </summary>
internal static class ForwardingHeaders
{
    public const string XForwardedFor = "X-Forwarded-For";
    public const string XForwardedProto = "X-Forwarded-Proto";
    public const string XForwardedHost = "X-Forwarded-Host";
    public const string XForwardedPrefix = "X-Forwarded-Prefix";
    public const string XRealIp = "X-Real-IP";
    public const string Forwarded = "Forwarded";

    private const string XForwardedPrefixFamily = "X-Forwarded-";

    /// <summary>
    /// Other names a backend reads as the client's address, its scheme or the host it asked for: PHP's common
    /// <c>HTTP_CLIENT_IP</c> lookup and Rails (<c>Client-IP</c>), CDNs (<c>True-Client-IP</c>, <c>CF-Connecting-IP</c>,
    /// <c>Fastly-Client-IP</c>), load balancers and the request-ip libraries (<c>X-Client-IP</c>,
    /// <c>X-Cluster-Client-IP</c>, <c>X-Forwarded</c>, <c>Forwarded-For</c>, <c>X-Originating-IP</c>,
    /// <c>X-Remote-IP</c>, <c>X-Remote-Addr</c>, <c>X-ProxyUser-Ip</c>), Outlook Web Access and IIS
    /// (<c>Front-End-Https</c>, <c>X-Url-Scheme</c>), host overrides (<c>X-Host</c>, <c>X-Original-Host</c>), and
    /// WebLogic's proxy plug-in headers, which WebLogic itself trusts when the plug-in is enabled (<c>WL-Proxy-Client-IP</c>
    /// for <c>getRemoteAddr()</c>, <c>WL-Proxy-SSL</c> for <c>isSecure()</c>, <c>WL-Proxy-Client-Cert</c> as the client's
    /// certificate) with the names Java's usual client-IP helper reads (<c>Proxy-Client-IP</c>, and <c>HTTP_CLIENT_IP</c>
    /// and <c>HTTP_X_FORWARDED_FOR</c> as header names).
    /// A direct client's copy would let it choose the address an IP allow-list or a backend log sees.
    /// </summary>
    // One list with the config checks (EdgeOwnedHeaders), which refuse a step that would read one of these.
    private static readonly string[] OtherNames = EdgeOwnedHeaders.OtherForwardingNames;

    /// <summary>
    /// The hosts a trusted proxy's headers name as the one the client asked for: every <c>X-Forwarded-Host</c> entry
    /// and every <c>host=</c> of <c>Forwarded</c> (RFC 7239; Spring and other frameworks prefer it), unquoted. From an
    /// untrusted connection both headers were removed, so there are none.
    /// </summary>
    /// <summary>Whether <see cref="ClaimedHosts"/> can name any: without either header (every untrusted request), no walk.</summary>
    public static bool MayClaimHosts(IHeaderDictionary headers) =>
        headers.ContainsKey(XForwardedHost) || headers.ContainsKey(Forwarded);

    public static IEnumerable<string> ClaimedHosts(IHeaderDictionary headers)
    {
        foreach (var value in headers[XForwardedHost])
        {
            foreach (var host in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                yield return host;
            }
        }

        foreach (var value in headers[Forwarded])
        {
            // A quoted ',' or ';' splits a value here, and what is left of it is no host: refused, never skipped.
            foreach (var pair in (value ?? "").Split([',', ';'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (pair.StartsWith("host=", StringComparison.OrdinalIgnoreCase))
                {
                    yield return pair.AsSpan(5).Trim().Trim('"').ToString();
                }
            }
        }
    }

    /// <summary>X-Forwarded-* (any), Forwarded, X-Real-IP and the other client-address names, in either spelling.</summary>
    public static bool IsForwardingHeader(string name)
    {
        if (HeaderName.StartsWith(name, XForwardedPrefixFamily) || HeaderName.EqualsName(name, Forwarded) || HeaderName.EqualsName(name, XRealIp))
        {
            return true;
        }

        foreach (var candidate in OtherNames)
        {
            if (HeaderName.EqualsName(name, candidate))
            {
                return true;
            }
        }

        return false;
    }
}
