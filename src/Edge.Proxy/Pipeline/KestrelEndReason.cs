using System.Reflection;
using Microsoft.AspNetCore.Http.Features;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Kestrel's own record of why it ended a connection (<c>ConnectionMetricsContext.ConnectionEndReason</c>, behind the
/// internal connection feature its metrics read). Kestrel exposes it only as a metric tag once the connection is gone; the
/// request needs it while the connection is ending. KestrelEndReasonTests fails when a name changes, so the classification
/// cannot fall back to client_aborted unnoticed. Only read for a request that was aborted.
/// </summary>
internal static class KestrelEndReason
{
    internal const string FeatureTypeName = "Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Infrastructure.IConnectionMetricsContextFeature";

    /// <summary>The <c>ConnectionEndReason</c> of a connection Kestrel ended over a body slower than <c>MinRequestBodyDataRate</c>.</summary>
    internal const string MinRequestBodyDataRate = "MinRequestBodyDataRate";

    /// <summary>
    /// The <c>ConnectionEndReason</c> of an HTTP/2 connection Kestrel ended (GOAWAY PROTOCOL_ERROR) over a header or trailer
    /// block it refused: a pseudo-header, an upper-case name, a connection-specific field or a NUL in trailing HEADERS.
    /// </summary>
    internal const string InvalidRequestHeaders = "InvalidRequestHeaders";

    internal static readonly Type? FeatureType = typeof(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions).Assembly.GetType(FeatureTypeName);

    private static readonly PropertyInfo? MetricsContext = FeatureType?.GetProperty("MetricsContext");

    private static readonly PropertyInfo? Reason = MetricsContext?.PropertyType.GetProperty("ConnectionEndReason");

    public static string? Read(IFeatureCollection connectionFeatures) =>
        FeatureType is not null && connectionFeatures[FeatureType] is { } feature && MetricsContext!.GetValue(feature) is { } context
            ? Reason?.GetValue(context)?.ToString()
            : null;
}
