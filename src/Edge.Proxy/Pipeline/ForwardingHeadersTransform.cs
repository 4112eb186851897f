using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Writes the forwarding headers on the proxy request, replacing YARP's default X-Forwarded transforms (which
/// <c>Set</c> X-Forwarded-For and so drop a trusted proxy's chain). Runs after the incoming headers were copied; an
/// untrusted client's copies were already removed by <see cref="EdgeRequestMiddleware"/>.
/// </summary>
internal sealed class ForwardingHeadersTransform : RequestTransform
{
    public static readonly ForwardingHeadersTransform Instance = new();

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var http = context.HttpContext;

        // An empty Host (HTTP/1.1 allows one for a target without an authority) was copied to the proxy request as an
        // empty Host field, and YARP's host transform replaces only a non-empty one, so HttpClient wrote the
        // destination's Host line next to it: two Host fields, which the backend must refuse or reads either way.
        // Without it, the backend gets the destination's Host (its configured Host, else the address), as for any request.
        if (!http.Request.Host.HasValue)
        {
            context.ProxyRequest.Headers.Remove(HeaderNames.Host);
        }

        var request = http.GetEdgeRequest();
        var forwardedFor = TakeHeader(context, ForwardingHeaders.XForwardedFor);
        string? remote;
        if (forwardedFor.Count == 0 && request?.ClientIp is { } direct)
        {
            // The common case, a client connecting directly: with no X-Forwarded-For the resolved client is the
            // connection's address, already formatted once by the request middleware.
            remote = direct;
            AddHeader(context, ForwardingHeaders.XForwardedFor, remote);
        }
        else
        {
            remote = ClientAddressResolver.Normalize(http.Connection.RemoteIpAddress)?.ToString();
            var chain = remote is null ? forwardedFor : StringValues.Concat(forwardedFor, remote);
            if (chain.Count > 0)
            {
                AddHeader(context, ForwardingHeaders.XForwardedFor, string.Join(", ", chain.ToArray()));
            }
        }

        SetUnlessPresent(context, ForwardingHeaders.XForwardedProto, http.Request.Scheme);
        SetUnlessPresent(context, ForwardingHeaders.XForwardedHost, http.Request.Host.Value);
        SetUnlessPresent(context, ForwardingHeaders.XForwardedPrefix, http.Request.PathBase.Value);

        // X-Real-IP is one address: the resolved client, by the same rule as the audit record and the {ip} key.
        TakeHeader(context, ForwardingHeaders.XRealIp);
        var client = request?.ClientIp ?? remote;
        if (client is not null)
        {
            AddHeader(context, ForwardingHeaders.XRealIp, client);
        }

        return ValueTask.CompletedTask;
    }

    private static void SetUnlessPresent(RequestTransformContext context, string name, string? value)
    {
        var existing = TakeHeader(context, name);
        var result = existing.Count > 0 ? existing : (StringValues)value;
        if (!StringValues.IsNullOrEmpty(result))
        {
            AddHeader(context, name, result);
        }
    }
}
