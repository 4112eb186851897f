using System.Text;
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
        var builder = new StringBuilder(64);
        if (!key.ContainsTenant)
        {
            builder.Append(RateLimitKeyTemplate.Encode(tenant)).Append(':');
        }

        foreach (var segment in key.Segments)
        {
            builder.Append(segment.Kind switch
            {
                SegmentKind.Literal => segment.Argument,
                SegmentKind.Tenant => RateLimitKeyTemplate.Encode(tenant),
                SegmentKind.Principal => RateLimitKeyTemplate.Encode(http.GetIdentity()?.Principal),
                SegmentKind.Ip => RateLimitKeyTemplate.Encode(request?.ClientIp?.Replace(':', '_')),
                // Outside an edge route (a plain ASP.NET Core app using the policy) the endpoint names the route.
                SegmentKind.Route => RateLimitKeyTemplate.Encode(request?.RouteId ?? http.GetEndpoint()?.DisplayName),
                SegmentKind.Header => RateLimitKeyTemplate.Encode(http.Request.Headers[segment.Argument].FirstOrDefault()),
                SegmentKind.Body => http.GetBody() is { } body ? RateLimitKeyTemplate.Encode(body.ReadValue(segment.Argument)) : RateLimitKeyTemplate.UnverifiedBody,
                _ => throw new InvalidOperationException("unknown segment"),
            });
        }

        return builder.ToString();
    }
}
