namespace Edge.Proxy.Pipeline;

/// <summary>
/// Headers that make some backend frameworks serve another URL or method than the request line's: IIS URL Rewrite and
/// older Symfony/Zend read <c>X-Original-URL</c> and <c>X-Rewrite-URL</c> as the path to route, and applications written
/// for nginx's <c>auth_request</c> or Envoy read <c>X-Original-URI</c> and <c>X-Envoy-Original-Path</c> as the path the
/// client asked for (authorisation, redirects, links); Express's
/// method-override, Rails, Laravel and ASP.NET Core's <c>UseHttpMethodOverride</c> read <c>X-HTTP-Method-Override</c>
/// and its variants as the method. The edge matched the route, its <c>Methods</c>, its steps and an approval on the
/// request line, so a client's copy would let it reach another route's handler with this route's checks. Removed from
/// every request, from trusted proxies too, in either <c>-</c>/<c>_</c> spelling.
/// </summary>
internal static class RoutingOverrideHeaders
{
    // One list with the config checks (EdgeOwnedHeaders), which refuse a step that would read one of these.
    private static readonly string[] Names = EdgeOwnedHeaders.RoutingOverrideNames;

    public static bool IsRoutingOverride(string name)
    {
        foreach (var candidate in Names)
        {
            if (HeaderName.EqualsName(name, candidate))
            {
                return true;
            }
        }

        return false;
    }
}
