using System.Buffers;
using System.Security.Claims;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tenancy;

/// <summary>
/// Extracts the tenant, validates it, puts it on the request state for later steps and forwards it in the header the
/// edge owns (client-sent copies were already removed with the other identity headers).
/// </summary>
internal sealed class TenantStep(TenantStepOptions options, string forwardHeader) : IEdgeStep
{
    public const string MissingCode = "tenant_missing";
    public const string InvalidCode = "tenant_invalid";

    // Never a valid tenant id, so an ambiguous header, path or claim is refused as tenant_invalid.
    private const string Ambiguous = "\0ambiguous";

    private static readonly SearchValues<char> DigitsAndDots = SearchValues.Create("0123456789.");

    private readonly string _source = options.Source.ToString();
    private readonly bool _nameHasUnderscore = options.Name?.Contains('_', StringComparison.Ordinal) == true;

    public ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var raw = Extract(context);
        if (string.IsNullOrEmpty(raw))
        {
            if (!options.Required)
            {
                return ValueTask.FromResult(EdgeStepResult.Continue);
            }

            return ValueTask.FromResult(EdgeStepResult.Deny(StatusCodes.Status400BadRequest, MissingCode, "Tenant missing", Describe() + " is required."));
        }

        if (!TenantId.IsValid(raw))
        {
            return ValueTask.FromResult(EdgeStepResult.Deny(
                StatusCodes.Status400BadRequest,
                InvalidCode,
                "Tenant invalid",
                $"A tenant id is 1-{TenantId.MaxLength} characters from A-Z, a-z, 0-9, '.', '_' and '-', not dots only."));
        }

        context.HttpContext.SetFeature(new EdgeTenantFeature(raw, _source));
        if (TenantBinding.Check(context.HttpContext) is { } mismatch)
        {
            // Authentication ran first and its credential is bound to another tenant.
            return ValueTask.FromResult(EdgeStepResult.Deny(mismatch));
        }

        context.Transform.ProxyRequest.Headers.Remove(forwardHeader);
        context.Transform.ProxyRequest.Headers.TryAddWithoutValidation(forwardHeader, raw);
        return ValueTask.FromResult(EdgeStepResult.Continue);
    }

    private string? Extract(EdgeStepContext context)
    {
        var http = context.HttpContext;
        switch (options.Source)
        {
            case TenantSource.Header:
                var values = http.Request.Headers[options.Name!];
                // Two copies of the header are ambiguous; refuse rather than pick one. So is a copy named with '_' for
                // '-' (X_Tenant_ID), even alone: it is forwarded, and a backend reading HTTP_X_TENANT_ID may take its
                // value for the tenant while the edge limited, audited and bound the request by another one (or none).
                return MayHaveAlias(http) && HeaderName.HasUnderscoreAlias(http.Request.Headers, options.Name!) ? Ambiguous
                    : values.Count == 1 ? values[0] : values.Count == 0 ? null : Ambiguous;
            case TenantSource.Host:
                var tenant = HostTenant(http.Request.Host.Host);
                // Only a trusted proxy's X-Forwarded-Host and Forwarded are still on the request, and they are forwarded: a
                // backend that reads the tenant from them must find the one the edge limited, audited and bound the credential by.
                return ClaimedHostsAgree(http.Request.Headers, tenant) ? tenant : Ambiguous;
            case TenantSource.Path when options.RouteValue is not null:
                return http.Request.RouteValues.TryGetValue(options.RouteValue, out var routeValue) ? routeValue?.ToString() : null;
            case TenantSource.Path:
                return PathSegment(http.Request.Path.Value, options.Segment!.Value);
            case TenantSource.Claim:
                return SingleClaim(http.GetIdentity()?.User ?? http.User, options.Name!);
            case TenantSource.Static:
                return options.Value;
            default:
                return null;
        }
    }

    // The request middleware saw every header name on arrival: without a '_' among them (nearly always) there is no
    // alias to look for, and no second enumeration of the headers. A configured name with '_' has a '-' alias.
    private bool MayHaveAlias(HttpContext http) =>
        _nameHasUnderscore || http.GetEdgeRequest() is not { HasUnderscoreHeaderName: false };

    // Host names are case-insensitive (RFC 4343): ACME.api.example.com is acme's host, not another tenant with its own
    // rate-limit bucket, ban key and audit name. An IP address has no sub-domain (no DNS name is digits and dots
    // only: a top-level domain is never all-numeric; an IPv6 literal is bracketed), so 10.0.0.1 names no tenant rather
    // than tenant "10", and [::ffff:10.0.0.1] none rather than an invalid one (a refusal on a route whose tenant is optional).
    private static string? HostTenant(ReadOnlySpan<char> host)
    {
        var dot = host.IndexOf('.');
        return dot > 0 && host[0] != '[' && host.ContainsAnyExcept(DigitsAndDots) ? host[..dot].ToString().ToLowerInvariant() : null;
    }

    private static bool ClaimedHostsAgree(IHeaderDictionary headers, string? tenant)
    {
        if (!ForwardingHeaders.MayClaimHosts(headers))
        {
            return true;
        }

        foreach (var host in ForwardingHeaders.ClaimedHosts(headers))
        {
            if (HostTenant(host) != tenant)
            {
                return false;
            }
        }

        return true;
    }

    private static string? PathSegment(string? path, int index)
    {
        if (path is null)
        {
            return null;
        }

        // Request.Path is decoded already (all but %2F, which leaves '%' in the segment and is refused). Decoding it
        // again made "/s/%2561cme" the tenant acme while the backend's path said "%61cme".
        // An empty segment up to the tenant's is ambiguous: segment 1 of "/s//globex/orders" is globex to a backend that
        // merges slashes and empty to one that does not (skipping empty segments, the edge took globex). segments[0] is
        // the text before the leading '/'.
        var segments = path.Split('/');
        if (index + 1 >= segments.Length)
        {
            return null;
        }

        for (var i = 1; i <= index + 1; i++)
        {
            if (segments[i].Length == 0 && i < segments.Length - 1)
            {
                return Ambiguous;
            }
        }

        return segments[index + 1];
    }

    // An array claim is one claim per value: a token naming several tenants names none of them.
    private static string? SingleClaim(ClaimsPrincipal user, string type)
    {
        string? value = null;
        foreach (var claim in user.FindAll(type))
        {
            if (value is not null)
            {
                return Ambiguous;
            }

            value = claim.Value;
        }

        return value;
    }

    private string Describe() => options.Source switch
    {
        TenantSource.Header => $"The {options.Name} header",
        TenantSource.Host => "A tenant sub-domain in the Host header",
        TenantSource.Path => "A tenant path segment",
        TenantSource.Claim => $"The {options.Name} claim",
        _ => "A tenant",
    };
}
