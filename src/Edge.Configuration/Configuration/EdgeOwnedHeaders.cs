namespace Edge.Configuration;

/// <summary>
/// Request headers the edge owns besides its identity prefix: it removes a client's copy before any step runs, or sets
/// the value itself. A step or policy told to read one (a tenant header, an API key or approval token header, a
/// rate-limit key, a bound header) read nothing, the edge's own value (<c>X-Request-Id</c> is new for every request: one
/// tenant, or one rate-limit bucket, per request), or a value the backend never receives. The proxy strips by these
/// lists, so the config checks and the requests agree. Names compare case-insensitively with '_' counting as '-'.
/// </summary>
internal static class EdgeOwnedHeaders
{
    /// <summary>Set by the edge on every request (and response) to the request's id, before the steps run.</summary>
    public const string RequestId = "X-Request-Id";

    /// <summary>Replaced by the edge's own W3C trace context on the request to the backend.</summary>
    public const string TraceParent = "traceparent";

    public const string XForwardedFamily = "X-Forwarded-";

    public const string Forwarded = "Forwarded";

    public const string XRealIp = "X-Real-IP";

    /// <summary>
    /// Other names a backend reads as the client's address, its scheme or the host it asked for (see
    /// <c>ForwardingHeaders</c> in the proxy for who reads which); removed from a client's request like X-Forwarded-*.
    /// </summary>
    public static readonly string[] OtherForwardingNames =
    [
        "Client-IP", "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP", "X-Client-IP", "X-Cluster-Client-IP",
        "X-Forwarded", "Forwarded-For", "X-Originating-IP", "X-Remote-IP", "X-Remote-Addr", "X-ProxyUser-Ip",
        "Front-End-Https", "X-Url-Scheme", "X-Host", "X-Original-Host",
        "WL-Proxy-Client-IP", "Proxy-Client-IP", "WL-Proxy-SSL", "WL-Proxy-Client-Cert", "HTTP-Client-IP", "HTTP-X-Forwarded-For",
    ];

    /// <summary>
    /// Names that make some backend frameworks serve another URL or method than the request line's (see
    /// <c>RoutingOverrideHeaders</c> in the proxy); removed from every request, from trusted proxies too.
    /// </summary>
    public static readonly string[] RoutingOverrideNames =
    [
        "X-Original-URL", "X-Rewrite-URL", "X-Original-URI", "X-Envoy-Original-Path", "X-HTTP-Method-Override", "X-HTTP-Method",
        "X-Method-Override",
    ];

    /// <summary>
    /// Why no step may read <paramref name="name"/> (a sentence naming it, for a config error), or null when the edge
    /// leaves it to the client. The identity prefix is checked by each caller, with its own message.
    /// </summary>
    public static string? WhyOwned(string name)
    {
        if (Is(name, RequestId))
        {
            return $"'{name}' is set by the edge to its own request id before the steps run (a new value for every request; a client's copy is removed)";
        }

        if (Is(name, TraceParent))
        {
            return $"'{name}' is replaced by the edge with its own trace context for the backend, so a step would read a value the backend never receives";
        }

        if (IsForwarding(name))
        {
            return $"'{name}' is a forwarding header the edge removes from a client's request (a trusted proxy's copy carries what its own client sent) and writes anew for the backend";
        }

        foreach (var candidate in RoutingOverrideNames)
        {
            if (Is(name, candidate))
            {
                return $"'{name}' is removed by the edge from every request before the steps run (a backend would serve another URL or method for it)";
            }
        }

        return null;
    }

    private static bool IsForwarding(string name)
    {
        if (Normalize(name).StartsWith(XForwardedFamily, StringComparison.OrdinalIgnoreCase) || Is(name, Forwarded) || Is(name, XRealIp))
        {
            return true;
        }

        foreach (var candidate in OtherForwardingNames)
        {
            if (Is(name, candidate))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Is(string name, string owned) => string.Equals(Normalize(name), owned, StringComparison.OrdinalIgnoreCase);

    private static string Normalize(string name) => name.Replace('_', '-');
}
