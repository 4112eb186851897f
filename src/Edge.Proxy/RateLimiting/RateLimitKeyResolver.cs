using System.Runtime.CompilerServices;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Primitives;
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
            AppendLowerCase(ref builder, tenant);
            builder.AppendLiteral(":");
        }

        // Indexed, not foreach: the interface enumerator would be a heap object per request.
        var segments = key.Segments;
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            if (segment.Kind == SegmentKind.Tenant)
            {
                AppendLowerCase(ref builder, tenant);
                continue;
            }

            if (segment.Kind == SegmentKind.Principal)
            {
                AppendLowerCase(ref builder, http.GetIdentity()?.Principal);
                continue;
            }

            builder.AppendLiteral(segment.Kind switch
            {
                SegmentKind.Literal => segment.Argument,
                // An IPv6 client counts by its /64, as ban rules do: one subscriber holds all of its addresses.
                SegmentKind.Ip => request?.ClientIp is { } ip ? ClientAddressResolver.IpKey(ip) : RateLimitKeyTemplate.Encode(null),
                // Outside an edge route (a plain ASP.NET Core app using the policy) the endpoint names the route.
                SegmentKind.Route => RateLimitKeyTemplate.Encode(request?.RouteId ?? http.GetEndpoint()?.DisplayName),
                SegmentKind.Header => RateLimitKeyTemplate.Encode(HeaderValue(http.Request.Headers[segment.Argument])),
                SegmentKind.Body => http.GetBody() is { } body ? RateLimitKeyTemplate.Encode(body.ReadValue(segment.Argument)) : RateLimitKeyTemplate.UnverifiedBody,
                _ => throw new InvalidOperationException("unknown segment"),
            });
        }

        return builder.ToStringAndClear();
    }

    // Acme and acme, Alice and alice are one partition (RateLimitKeyTemplate.EncodeLowerCase). A value kept as is (every
    // tenant id, most principals) is lower-cased on the stack, so Resolve still allocates only the key.
    private static void AppendLowerCase(ref DefaultInterpolatedStringHandler builder, string? value)
    {
        Span<char> lower = stackalloc char[RateLimitKeyTemplate.MaxKeptLength];
        var written = RateLimitKeyTemplate.LowerCaseKeptAsIs(value, lower);
        if (written < 0)
        {
            builder.AppendLiteral(RateLimitKeyTemplate.EncodeLowerCase(value));
            return;
        }

        builder.AppendFormatted((ReadOnlySpan<char>)lower[..written]);
    }

    // Outside the edge's steps nothing refuses a repeated key header (KeyHeaders), so it is keyed by all of its values: the
    // first alone let a client pick its bucket by sending another copy before it.
    private static string? HeaderValue(StringValues values) => values.Count switch
    {
        0 => null,
        1 => values[0],
        _ => values.ToString(),
    };
}
