using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Keeps a request on the destinations of the config revision whose steps it runs. YARP pairs a route's steps (built per
/// revision) with a cluster state it updates in place, and reads the destination address when forwarding starts: a
/// request that matched its route just before a reload which changed the cluster's addresses ran the old steps and was
/// sent to the new backend (or, on a revert, the new steps to the old one), so a backend that came with a new
/// <c>EdgeAuthenticate</c> step could receive a request that never passed it. Added once per route with edge steps.
/// </summary>
internal sealed partial class EdgeDestinationPinTransform(string routeId, string[] addresses, ILogger logger) : RequestTransform
{
    private int _next;

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var prefix = context.DestinationPrefix;
        foreach (var address in addresses)
        {
            if (string.Equals(address, prefix, StringComparison.Ordinal))
            {
                return ValueTask.CompletedTask;
            }
        }

        // Only in the moment of a reload: in-flight requests finish on the config they matched, destinations included.
        var pinned = addresses[(int)((uint)Interlocked.Increment(ref _next) % (uint)addresses.Length)];
        Log.Repinned(logger, routeId);
        context.DestinationPrefix = pinned;
        return ValueTask.CompletedTask;
    }

    /// <summary>The addresses of the cluster the route's steps were built with; null when it has none.</summary>
    public static string[]? AddressesOf(Yarp.ReverseProxy.Configuration.ClusterConfig? cluster) =>
        cluster?.Destinations is { Count: > 0 } destinations ? destinations.Values.Select(d => d.Address).ToArray() : null;

    private static partial class Log
    {
        [LoggerMessage(1002, LogLevel.Debug, "Request on route {Route} matched before a reload changed its cluster; forwarded to the destination of the config it matched")]
        public static partial void Repinned(ILogger logger, string route);
    }
}
