using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.Primitives;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// <c>AllowedHosts</c>, the setting ASP.NET Core users know (<c>shop.example;*.shop.example</c>, port ignored,
/// <c>*</c> or unset: any), applied to the proxy listener only. Any <c>Host</c> used to be forwarded to the backend as
/// <c>X-Forwarded-Host</c>, where a legacy application builds absolute links from it (password-reset and cache
/// poisoning). ASP.NET Core's own host filtering would apply the setting to the management port too (a Kubernetes probe
/// sends the pod's IP as its Host, so <c>/healthz</c> failed) and answer an HTML page without a request id or an audit
/// record; it is turned off, and a request for another host gets the edge's <c>400 host_not_allowed</c> problem.
/// </summary>
internal sealed class AllowedHosts
{
    public const string Key = "AllowedHosts";

    public const string ReasonCode = "host_not_allowed";

    public static readonly EdgeDenial NotAllowed = new(StatusCodes.Status400BadRequest, ReasonCode, "Host not allowed",
        "This edge does not serve the host the request names.");

    private readonly StringSegment[] _patterns;

    private AllowedHosts(StringSegment[] patterns)
    {
        _patterns = patterns;
    }

    /// <summary>False when every host is allowed (the setting unset, empty or <c>*</c>): nothing to check per request.</summary>
    public bool IsRestricted => _patterns.Length > 0;

    /// <summary>True for an allowed host, and for a request without one (HTTP/1.0), as ASP.NET Core's <c>AllowEmptyHosts</c>.</summary>
    public bool Allows(HttpRequest request)
    {
        var host = request.Host.Value;
        return string.IsNullOrEmpty(host) || HostString.MatchesAny(host, _patterns);
    }

    /// <summary>
    /// True when every host a trusted proxy's <c>X-Forwarded-Host</c> or <c>Forwarded</c> names is allowed: a proxy that
    /// passes on the client's copy would otherwise let it name the host a backend builds links from.
    /// </summary>
    public bool AllowsClaimedHosts(HttpRequest request)
    {
        foreach (var host in ForwardingHeaders.ClaimedHosts(request.Headers))
        {
            if (!HostString.MatchesAny(host, _patterns))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses the setting; fails at start-up on an entry that is not a host name pattern.</summary>
    public static AllowedHosts Parse(string? value)
    {
        var entries = (value ?? "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length == 0 || entries.Contains("*"))
        {
            return new AllowedHosts([]);
        }

        foreach (var entry in entries)
        {
            if (!IsHostEntry(entry))
            {
                throw new InvalidOperationException(
                    $"{Key} entry '{entry}' is not a host name: give the host without scheme, port or path (shop.example, *.shop.example, [::1]).");
            }
        }

        return new AllowedHosts([.. entries.Select(e => new StringSegment(e))]);
    }

    /// <summary>
    /// Whether a host-list entry is a host name or pattern, not a URL: no scheme, path or port (an IPv6 literal keeps its
    /// brackets). Shared with <c>Edge:ManagementHosts</c>.
    /// </summary>
    internal static bool IsHostEntry(string entry) =>
        !entry.Contains("://", StringComparison.Ordinal) && !entry.Contains('/') && (!entry.Contains(':') || entry.StartsWith('['));

    public static void AddTo(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(Parse(builder.Configuration[Key]));
        // ASP.NET Core's middleware reads the same key: told to allow any host, it leaves the decision to the edge.
        builder.Services.Configure<HostFilteringOptions>(options => options.AllowedHosts = ["*"]);
    }
}
