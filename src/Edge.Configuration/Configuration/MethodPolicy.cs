using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// Methods the edge refuses before any step runs. <c>CONNECT</c> asks for a tunnel, which a forwarding proxy cannot
/// give (YARP answered 502 while the audit said <c>allow</c>); <c>TRACE</c> echoes the request, credentials included,
/// back to the caller (cross-site tracing), so a route must opt in with Metadata <c>EdgeAllowTrace</c>. Any other
/// method token, standard or not, is forwarded after the steps; restrict a route's methods with <c>Match.Methods</c>.
/// </summary>
internal static class MethodPolicy
{
    public const string AllowTraceMetadataKey = "EdgeAllowTrace";
    public const string ReasonCode = "method_not_allowed";

    private const string StandardMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

    public static bool IsRefused(string method, RouteConfig route) =>
        HttpMethods.IsConnect(method) || (HttpMethods.IsTrace(method) && !AllowsTrace(route));

    /// <summary>The <c>Allow</c> header for a refusal: the route's own method list when it has one, else the standard methods.</summary>
    public static string AllowHeader(RouteConfig route)
    {
        if (route.Match.Methods is { Count: > 0 } methods)
        {
            var allowed = methods.Where(m => !IsRefused(m, route)).Select(m => m.ToUpperInvariant()).ToArray();
            return string.Join(", ", allowed);
        }

        return AllowsTrace(route) ? StandardMethods + ", TRACE" : StandardMethods;
    }

    public static void Validate(RouteConfig route, string location, ConfigErrorList errors)
    {
        if (route.Metadata?.TryGetValue(AllowTraceMetadataKey, out var value) == true && !bool.TryParse(value, out _))
        {
            errors.Add(location + ":Metadata:" + AllowTraceMetadataKey, $"'{value}' is not valid; use true or false");
        }
    }

    private static bool AllowsTrace(RouteConfig route) =>
        route.Metadata?.TryGetValue(AllowTraceMetadataKey, out var value) == true && bool.TryParse(value, out var allow) && allow;
}
