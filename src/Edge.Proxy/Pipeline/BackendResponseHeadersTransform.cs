using System.Net;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Keeps the backend's own address and software out of the answer the client gets. A legacy backend builds an absolute
/// <c>Location</c> from the <c>Host</c> it received, which is the destination's address (YARP sends it by default), so
/// its redirect pointed the client at <c>http://10.0.3.7:8080/login</c>: a leak of the internal address, and a redirect
/// the client cannot follow (or, worse, one that bypasses the edge when it can). As nginx's <c>proxy_redirect default</c>
/// does, a <c>Location</c> on the destination's origin becomes origin-relative (<c>/login</c>), which the client resolves
/// against the URL it asked the edge for. <c>Server</c>, <c>X-Powered-By</c>, <c>X-AspNet-Version</c> and
/// <c>X-AspNetMvc-Version</c> name the backend's software and version for an attacker to look up; Envoy overwrites
/// <c>Server</c> by default, and so does the edge (Kestrel writes its own). <c>Content-Location</c> and a
/// <c>Refresh</c> URL get the same treatment as <c>Location</c>, and a <c>Set-Cookie</c> whose <c>Domain</c> names the
/// destination loses that attribute.
/// </summary>
internal sealed class BackendResponseHeadersTransform : ResponseTransform
{
    public static readonly BackendResponseHeadersTransform Instance = new();

    private static readonly string[] SoftwareHeaders = [HeaderNames.Server, "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version"];

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.ProxyResponse is not { } response)
        {
            return ValueTask.CompletedTask;
        }

        var headers = context.HttpContext.Response.Headers;
        foreach (var name in SoftwareHeaders)
        {
            headers.Remove(name);
        }

        // A 204 or 205 has no content (RFC 9110 §15.3.5-6), and Kestrel sends none: a legacy backend's Content-Length or
        // body on one made Kestrel answer 500 with an empty body after the record had said 204. Dropped, as Traefik does
        // (Envoy answers such a response with 502; a legacy backend behind it then fails).
        if (response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.ResetContent)
        {
            headers.ContentLength = null;
            context.SuppressResponseBody = true;
        }

        if (response.RequestMessage is not { RequestUri: { } destination } request)
        {
            return ValueTask.CompletedTask;
        }

        var sentHost = request.Headers.Host;
        if (headers.Location is [{ } location] && OnBackendOrigin(location, destination, sentHost) is { } relative)
        {
            headers.Location = relative;
        }

        if (headers.ContentLocation is [{ } contentLocation] && OnBackendOrigin(contentLocation, destination, sentHost) is { } relativeContent)
        {
            headers.ContentLocation = relativeContent;
        }

        if (headers.TryGetValue(RefreshHeader, out var refresh) && refresh is [{ } refreshValue] && RelativeRefresh(refreshValue, destination, sentHost) is { } relativeRefresh)
        {
            headers[RefreshHeader] = relativeRefresh;
        }

        if (headers.SetCookie.Count > 0 && WithoutBackendDomain(headers.SetCookie, destination, sentHost) is { } cookies)
        {
            headers.SetCookie = cookies;
        }

        return ValueTask.CompletedTask;
    }

    private const string RefreshHeader = "Refresh";

    /// <summary>
    /// <c>Refresh: 0; url=http://10.0.3.7:8080/next</c> (the meta-refresh redirect old frameworks send as a header) with
    /// its URL made origin-relative when it names the destination, as <c>Location</c>.
    /// </summary>
    private static string? RelativeRefresh(string value, Uri destination, string? sentHost)
    {
        var urlAt = value.IndexOf("url=", StringComparison.OrdinalIgnoreCase);
        if (urlAt < 0)
        {
            return null;
        }

        var url = value[(urlAt + 4)..].Trim().Trim('\'', '"');
        return OnBackendOrigin(url, destination, sentHost) is { } relative ? value[..(urlAt + 4)] + relative : null;
    }

    /// <summary>
    /// Each cookie with its <c>Domain</c> attribute removed when that names the destination's host (or the host sent
    /// to it): <c>Domain=10.0.3.7</c> told the client the internal address, and the browser drops such a cookie anyway
    /// since it does not match the edge's host. Without the attribute the cookie belongs to the host the client asked,
    /// as with nginx's <c>proxy_cookie_domain</c>. Other domains (the site's own <c>.shop.example</c>) are kept.
    /// </summary>
    /// <returns>The rewritten cookies, or null when none named the destination.</returns>
    private static string[]? WithoutBackendDomain(Microsoft.Extensions.Primitives.StringValues cookies, Uri destination, string? sentHost)
    {
        // HostString drops the port and keeps an IPv6 literal's brackets, which Uri.IdnHost and cookie domains do not have.
        var destinationHost = destination.IdnHost.Trim('[', ']');
        var sentHostName = sentHost is null ? null : new HostString(sentHost).Host.Trim('[', ']');
        string[]? rewritten = null;
        for (var i = 0; i < cookies.Count; i++)
        {
            // Most cookies carry no Domain attribute: those are not split.
            var cookie = cookies[i];
            if (cookie is null || !cookie.Contains("domain", StringComparison.OrdinalIgnoreCase)
                || WithoutDomain(cookie, destinationHost, sentHostName) is not { } stripped)
            {
                continue;
            }

            rewritten ??= cookies.ToArray()!;
            rewritten[i] = stripped;
        }

        return rewritten;
    }

    private static string? WithoutDomain(string cookie, string destinationHost, string? sentHost)
    {
        var attributes = cookie.Split(';');
        for (var i = 1; i < attributes.Length; i++)
        {
            var attribute = attributes[i].AsSpan().Trim();
            if (!attribute.StartsWith("domain", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var rest = attribute[6..].TrimStart();
            if (rest.Length == 0 || rest[0] != '=')
            {
                continue;
            }

            var domain = rest[1..].Trim().TrimStart('.');
            if (domain.Equals(destinationHost, StringComparison.OrdinalIgnoreCase)
                || (sentHost is not null && domain.Equals(sentHost, StringComparison.OrdinalIgnoreCase)))
            {
                return string.Join(';', attributes[..i].Concat(attributes[(i + 1)..]));
            }
        }

        return null;
    }

    /// <summary>The path, query and fragment of <paramref name="location"/> when it names the origin the request was sent to.</summary>
    private static string? OnBackendOrigin(string location, Uri destination, string? sentHost)
    {
        // A network-path reference (//10.0.3.7:8080/login) keeps the request's scheme.
        var absolute = location.StartsWith("//", StringComparison.Ordinal) ? destination.Scheme + ":" + location : location;
        if (!Uri.TryCreate(absolute, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return null;
        }

        var sameOrigin = string.Equals(uri.Scheme, destination.Scheme, StringComparison.OrdinalIgnoreCase)
            && (string.Equals(uri.Authority, destination.Authority, StringComparison.OrdinalIgnoreCase)
                || (sentHost is not null && string.Equals(uri.Authority, sentHost, StringComparison.OrdinalIgnoreCase)));
        if (!sameOrigin)
        {
            return null;
        }

        // A path whose first segment is empty (http://10.0.3.7:8080//evil.example/x, or /\evil.example, which Uri reads as
        // //) is a path on the backend's origin; cut to //evil.example/x it became a network-path reference, a redirect to
        // another site. "/." keeps it this origin's path, as the URL Standard serialises such a path.
        var relative = uri.PathAndQuery + uri.Fragment;
        return relative.StartsWith("//", StringComparison.Ordinal) ? "/." + relative : relative;
    }
}
