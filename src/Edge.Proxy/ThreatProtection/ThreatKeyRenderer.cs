using System.Text;
using System.Text.RegularExpressions;
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

    // A value as RateLimitKeyTemplate.Encode writes it (as is, or a '~' hash or marker); an address as {ip} renders it.
    private const string ValuePart = "(?:[A-Za-z0-9._@-]{1,64}|~[A-Za-z0-9_-]+)";
    // A tenant as the renderer writes it: in lower case (RateLimitKeyTemplate.EncodeLowerCase), so a manual ban of Acme:… is
    // refused as one no request can render instead of being stored to match nobody.
    private const string TenantPart = "(?:[a-z0-9._-]{1,64}|~[A-Za-z0-9_-]+)";
    // A principal likewise (RateLimitKeyTemplate.EncodeLowerCase): a manual ban of Alice is refused, as no request renders it.
    private const string PrincipalPart = "(?:[a-z0-9._@-]{1,64}|~[A-Za-z0-9_-]+)";
    private const string IpPart = @"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f_]*__)";

    /// <summary>
    /// Whether some request could render <paramref name="key"/> with <paramref name="template"/>: its literals as
    /// written, each value as the renderer encodes it, <c>{ip}</c> as an address.
    /// </summary>
    public static bool CanRender(RateLimitKeyTemplate template, string key)
    {
        var pattern = new StringBuilder(@"\A");
        foreach (var segment in template.Segments)
        {
            pattern.Append(segment.Kind switch
            {
                SegmentKind.Literal => Regex.Escape(segment.Argument),
                SegmentKind.Ip => IpPart,
                SegmentKind.Tenant => TenantPart,
                SegmentKind.Principal => PrincipalPart,
                _ => ValuePart,
            });
        }

        pattern.Append(@"\z");
        return Regex.IsMatch(key, pattern.ToString(), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
    }

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
                // In lower case, as a rate-limit partition holds it: a tenant banned as acme is not served as Acme.
                SegmentKind.Tenant => http.GetTenant()?.Tenant is { } tenant ? RateLimitKeyTemplate.EncodeLowerCase(tenant) : null,
                // In lower case too: four-eyes takes Alice and alice for one person, so a ban of one is a ban of the other.
                SegmentKind.Principal => http.GetIdentity()?.Principal is { } principal ? RateLimitKeyTemplate.EncodeLowerCase(principal) : null,
                SegmentKind.Ip => ClientIpKey(request),
                SegmentKind.Route => RateLimitKeyTemplate.Encode(request.RouteId),
                // An absent or empty header is not known either: Encode makes it "~none", one key shared by every client
                // that does not send the header, so one client's refusals banned them all.
                // A repeated one never gets here (CheckBeforeSteps refuses it); read whole, it could not pick a copy anyway.
                SegmentKind.Header => http.Request.Headers[segment.Argument] is { Count: > 0 } values && values.ToString() is { Length: > 0 } value
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
