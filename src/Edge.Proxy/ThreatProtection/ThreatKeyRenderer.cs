using System.Text;
using Edge.Configuration.RateLimiting;
using Edge.Proxy.Pipeline;
using SegmentKind = Edge.Configuration.RateLimiting.RateLimitKeyTemplate.SegmentKind;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// Renders a ban rule's key with the rate-limit vocabulary, as is (no tenant prefix: <c>{ip}</c> is <c>127.0.0.1</c>).
/// Unlike a rate-limit partition, a part that is not known yet makes the key unknown rather than <c>~none</c>: a ban
/// on <c>acme:10.0.0.1</c> must not be confused with a request whose tenant has not been read.
/// </summary>
internal static class ThreatKeyRenderer
{
    /// <summary>The client address as <c>{ip}</c> renders it: an IPv6 client as its /64 (<see cref="ClientAddressResolver.IpKey"/>).</summary>
    public static string? ClientIpKey(EdgeRequestFeature request) =>
        request.ClientIp is { } ip ? ClientAddressResolver.IpKey(ip) : null;

    public static string? Render(RateLimitKeyTemplate template, HttpContext http, EdgeRequestFeature request)
    {
        var segments = template.Segments;
        if (segments.Count == 1 && segments[0].Kind == SegmentKind.Ip)
        {
            return ClientIpKey(request);
        }

        var builder = new StringBuilder(64);
        foreach (var segment in segments)
        {
            var part = segment.Kind switch
            {
                SegmentKind.Literal => segment.Argument,
                SegmentKind.Tenant => http.GetTenant()?.Tenant is { } tenant ? RateLimitKeyTemplate.Encode(tenant) : null,
                SegmentKind.Principal => http.GetIdentity()?.Principal is { } principal ? RateLimitKeyTemplate.Encode(principal) : null,
                SegmentKind.Ip => ClientIpKey(request),
                SegmentKind.Route => RateLimitKeyTemplate.Encode(request.RouteId),
                // An absent or empty header is not known either: Encode makes it "~none", one key shared by every client
                // that does not send the header, so one client's refusals banned them all.
                SegmentKind.Header => http.Request.Headers[segment.Argument].FirstOrDefault() is { Length: > 0 } value
                    ? RateLimitKeyTemplate.Encode(value)
                    : null,
                _ => null,
            };
            if (part is null)
            {
                return null;
            }

            builder.Append(part);
        }

        return builder.ToString();
    }
}
