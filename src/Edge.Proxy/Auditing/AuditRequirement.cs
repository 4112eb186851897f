using Yarp.ReverseProxy.Model;

namespace Edge.Proxy.Auditing;

/// <summary>Route Metadata <c>EdgeAudit</c>: <c>Required</c> (the default) or <c>Optional</c>.</summary>
internal static class AuditRequirement
{
    public const string MetadataKey = "EdgeAudit";

    public static bool IsOptional(HttpContext context)
    {
        // A request no route took (UnroutedRequests) has no requirement: its record is best effort.
        if (context.Features.Get<IReverseProxyFeature>() is not { } proxy)
        {
            return true;
        }

        var metadata = proxy.Route.Config.Metadata;
        return metadata is not null && metadata.TryGetValue(MetadataKey, out var value)
            && string.Equals(value, "Optional", StringComparison.OrdinalIgnoreCase);
    }
}
