namespace Edge.Proxy.Pipeline;

/// <summary>
/// Removes the trailing dots of the <c>Host</c> name before routing. <c>admin.example.</c> is the fully qualified form of
/// <c>admin.example</c>, and nginx and Apache drop the dot before choosing a virtual host, but ASP.NET Core's host
/// matching compares the names as written: with a route for <c>admin.example</c> (and its steps) next to a catch-all,
/// <c>Host: admin.example.</c> took the catch-all, and the backend got that host as <c>X-Forwarded-Host</c> (and as
/// <c>Host</c> with <c>RequestHeaderOriginalHost</c>), so it served its admin site without the admin route's steps. Routing,
/// <c>AllowedHosts</c>, the <c>Host</c> tenant and the forwarded host all see the name without the dot.
/// </summary>
internal static class HostTrailingDot
{
    public static Task RemoveAsync(HttpContext context, RequestDelegate next)
    {
        Remove(context.Request);
        return next(context);
    }

    internal static void Remove(HttpRequest request)
    {
        // No allocation for the common host: one or two ordinal scans of the header value.
        var value = request.Host.Value;
        if (string.IsNullOrEmpty(value) || !(value.EndsWith('.') || value.Contains(".:", StringComparison.Ordinal)))
        {
            return;
        }

        var host = request.Host;
        var name = host.Host.TrimEnd('.');
        if (name.Length > 0)
        {
            request.Host = host.Port is { } port ? new HostString(name, port) : new HostString(name);
        }
    }
}
