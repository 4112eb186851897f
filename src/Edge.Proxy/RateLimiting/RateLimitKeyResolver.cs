using System.Runtime.CompilerServices;
using Edge.Proxy.Pipeline;
using SegmentKind = Edge.Configuration.RateLimiting.RateLimitKeyTemplate.SegmentKind;

namespace Edge.Proxy.RateLimiting;

/// <summary>Resolves a parsed <see cref="RateLimitKeyTemplate"/> against the request's features.</summary>
internal static class RateLimitKeyResolver
{
    /// <summary>The partition for this request; always contains the tenant, so tenants never share a bucket.</summary>
    public static string Resolve(this RateLimitKeyTemplate key, HttpContext http)
    {
        var request = http.GetEdgeRequest();
        var tenant = http.GetTenant()?.Tenant;
        // Built on the stack; only the finished key is allocated.
        var builder = new DefaultInterpolatedStringHandler(0, 0, null, stackalloc char[256]);
        if (!key.ContainsTenant)
        {
            builder.AppendLiteral(RateLimitKeyTemplate.Encode(tenant));
            builder.AppendLiteral(":");
        }

        // Indexed, not foreach: the interface enumerator would be a heap object per request.
        var segments = key.Segments;
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            builder.AppendLiteral(segment.Kind switch
            {
                SegmentKind.Literal => segment.Argument,
                SegmentKind.Tenant => RateLimitKeyTemplate.Encode(tenant),
                SegmentKind.Principal => RateLimitKeyTemplate.Encode(http.GetIdentity()?.Principal),
                // An IPv6 client counts by its /64, as ban rules do: one subscriber holds all of its addresses.
                SegmentKind.Ip => request?.ClientIp is { } ip ? ClientAddressResolver.IpKey(ip) : RateLimitKeyTemplate.Encode(null),
                // Outside an edge route (a plain ASP.NET Core app using the policy) the endpoint names the route.
                SegmentKind.Route => RateLimitKeyTemplate.Encode(request?.RouteId ?? http.GetEndpoint()?.DisplayName),
                SegmentKind.Header => RateLimitKeyTemplate.Encode(FirstValue(http.Request.Headers[segment.Argument])),
                SegmentKind.Body => http.GetBody() is { } body ? RateLimitKeyTemplate.Encode(body.ReadValue(segment.Argument)) : RateLimitKeyTemplate.UnverifiedBody,
                _ => throw new InvalidOperationException("unknown segment"),
            });
        }

        return builder.ToStringAndClear();
    }

    private static string? FirstValue(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 0 ? null : values[0];
}
