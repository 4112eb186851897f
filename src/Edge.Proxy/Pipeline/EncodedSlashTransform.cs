using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Forwards an encoded slash in the path as the client sent it. Kestrel decodes the path except <c>%2F</c>, which it
/// leaves as the three characters, and YARP escapes their <c>%</c> when it builds the backend's address, so
/// <c>/projects/group%2Fproject</c> reached the backend as <c>group%252Fproject</c> (dotnet/yarp#1419): the name a
/// GitLab-style API looks up was not the one the client asked for. When the request line's path has an encoded slash
/// and no escaped <c>%</c> (<c>%25</c>), every <c>%2F</c> left in the path is one the client sent, so the address gets
/// <c>%2F</c> back there, after the route's own path transforms. A path that also has a <c>%25</c> is ambiguous
/// (Kestrel decodes <c>%252F</c> to the same three characters) and keeps YARP's address.
/// </summary>
internal sealed class EncodedSlashTransform : RequestTransform
{
    public static EncodedSlashTransform Instance { get; } = new();

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode == StatusCodes.Status200OK && !http.Response.HasStarted && KeepsEncodedSlashes(http))
        {
            context.ProxyRequest.RequestUri = DestinationAddress(context);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The backend's address as the forwarder will use it (YARP's, with the client's encoded slashes kept).</summary>
    public static Uri DestinationAddress(RequestTransformContext context)
    {
        var address = RequestUtilities.MakeDestinationAddress(context.DestinationPrefix, context.Path, context.Query.QueryString);
        return KeepsEncodedSlashes(context.HttpContext) ? Unescape(address, context.DestinationPrefix) : address;
    }

    private static bool KeepsEncodedSlashes(HttpContext context)
    {
        var target = (context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "").AsSpan();
        var percent = target.IndexOf('%');
        if (percent < 0)
        {
            return false;
        }

        var query = target.IndexOf('?');
        var path = query < 0 ? target : target[..query];
        return path.Contains("%2F", StringComparison.OrdinalIgnoreCase) && !path.Contains("%25", StringComparison.Ordinal);
    }

    private static Uri Unescape(Uri address, string destinationPrefix)
    {
        var text = address.OriginalString;
        // The prefix is the cluster's (its trailing '/' dropped when joined); the query starts at the first '?' after it,
        // since YARP escapes a '?' in the path.
        var pathStart = destinationPrefix.EndsWith('/') ? destinationPrefix.Length - 1 : destinationPrefix.Length;
        var queryStart = text.IndexOf('?', pathStart);
        var pathEnd = queryStart < 0 ? text.Length : queryStart;
        var path = text[pathStart..pathEnd]
            .Replace("%252F", "%2F", StringComparison.Ordinal)
            .Replace("%252f", "%2f", StringComparison.Ordinal);
        return new Uri(string.Concat(text.AsSpan(0, pathStart), path, text.AsSpan(pathEnd)), UriKind.Absolute);
    }
}
