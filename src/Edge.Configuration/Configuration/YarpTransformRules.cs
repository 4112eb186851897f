using Microsoft.AspNetCore.Routing.Patterns;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// YARP's own header transforms take any header name and value; HttpClient and Kestrel then refuse them on every
/// request of the route (a name with a space, a value with a line break, a request header value that is not ASCII):
/// the client got 502, and with a response header transform after the backend had already served the request. Also a
/// route's <c>MaxRequestBodySize</c> below -1 and any route <c>Timeout</c> (500 on every request).
/// </summary>
internal static class YarpTransformRules
{
    private static readonly string[] HeaderNameKeys =
        ["RequestHeader", "ResponseHeader", "ResponseTrailer", "RequestHeaderRemove", "ResponseHeaderRemove", "ResponseTrailerRemove", "RequestHeaderRouteValue", "ClientCert"];

    private static readonly string[] HeaderListKeys = ["RequestHeadersAllowed", "ResponseHeadersAllowed", "ResponseTrailersAllowed"];

    public static void Validate(RouteConfig route, ClusterConfig? cluster, string location, ConfigErrorList errors)
    {
        if (route.MaxRequestBodySize is < -1)
        {
            errors.Add(location + ":MaxRequestBodySize", $"'{route.MaxRequestBodySize}' is not a size; give bytes, or -1 for no limit");
        }

        // YARP hands a route's Timeout to ASP.NET Core's request timeout middleware, which the edge's pipeline does not
        // run; YARP then threw on every request of the route (an empty 500).
        if (route.Timeout is not null)
        {
            errors.Add(location + ":Timeout", "route timeouts are not supported by the edge; bound a slow backend with its cluster's HttpRequest:ActivityTimeout instead");
        }

        // The same for ASP.NET Core's authorization and CORS middleware: "Default" (and for CORS also "Disable") passed
        // YARP's validation, and the endpoint middleware threw on every request of the route ("contains authorization
        // metadata, but a middleware was not found"). Named policies are YARP's own error: the edge defines none.
        if (route.AuthorizationPolicy is { } authorization && string.Equals(authorization, "Default", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(location + ":AuthorizationPolicy", "ASP.NET Core authorization policies are not supported by the edge; "
                + "use an EdgeAuthenticate step and EdgeRequire (or leave AuthorizationPolicy out)");
        }

        if (route.CorsPolicy is { } cors && (string.Equals(cors, "Default", StringComparison.OrdinalIgnoreCase) || string.Equals(cors, "Disable", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add(location + ":CorsPolicy", "CORS policies are not supported by the edge; leave CorsPolicy out and answer CORS in the backend");
        }

        for (var i = 0; i < (route.Transforms?.Count ?? 0); i++)
        {
            var transform = route.Transforms![i];
            var at = $"{location}:Transforms[{i}]";
            // HttpMethod's constructor threw when YARP built the transform: the check passed the file, and a running edge
            // refused it at ReverseProxy without naming the route.
            if (transform.TryGetValue("HttpMethodChange", out var fromMethod))
            {
                foreach (var (key, method) in new[] { ("HttpMethodChange", fromMethod), ("Set", transform.GetValueOrDefault("Set")) })
                {
                    if (method is not null && !HttpToken.IsToken(method))
                    {
                        errors.Add($"{at}:{key}", "not an HTTP method (a token such as GET or POST: letters, digits and !#$%&'*+-.^_`|~, no spaces)");
                    }
                }
            }

            if (transform.TryGetValue("PathPattern", out var pathPattern) && MissingRouteValue(pathPattern, route.Match?.Path) is { } missing)
            {
                // YARP binds the pattern from the route's values: without this one the binding failed, and every request of
                // the route reached the backend as "/".
                errors.Add($"{at}:PathPattern", $"'{{{missing}}}' is not a parameter of the route's Match.Path '{route.Match?.Path}'; name one of its parameters, or make it optional ({{{missing}?}})");
            }

            foreach (var key in HeaderNameKeys)
            {
                if (transform.TryGetValue(key, out var name) && !HttpToken.IsToken(name))
                {
                    errors.Add($"{at}:{key}", "not a header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or separators)");
                }
            }

            foreach (var key in HeaderListKeys)
            {
                if (transform.TryGetValue(key, out var list)
                    && list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(name => !HttpToken.IsToken(name)))
                {
                    errors.Add($"{at}:{key}", "lists something that is not a header name; separate names with ';'");
                }
            }

            if (transform.TryGetValue("X-Forwarded", out _) && transform.TryGetValue("HeaderPrefix", out var prefix) && prefix.Length > 0 && !HttpToken.IsToken(prefix))
            {
                errors.Add($"{at}:HeaderPrefix", "not the start of a header name (letters, digits and !#$%&'*+-.^_`|~)");
            }

            var isRequestHeader = transform.ContainsKey("RequestHeader");
            if (isRequestHeader || transform.ContainsKey("ResponseHeader") || transform.ContainsKey("ResponseTrailer"))
            {
                foreach (var valueKey in (ReadOnlySpan<string>)["Set", "Append"])
                {
                    if (!transform.TryGetValue(valueKey, out var value))
                    {
                        continue;
                    }

                    if (HttpToken.HasControlCharacter(value))
                    {
                        errors.Add($"{at}:{valueKey}", "holds a control character (a line break, NUL); a header value is one line of text");
                    }
                    else if (isRequestHeader && cluster?.HttpClient?.RequestHeaderEncoding is null && value.Any(c => c > '\x7f'))
                    {
                        errors.Add($"{at}:{valueKey}", "is not ASCII, which HttpClient refuses in a request header; write it in ASCII, or set the cluster's HttpClient:RequestHeaderEncoding (e.g. utf-8)");
                    }
                }
            }
        }
    }

    /// <summary>The first required value of a PathPattern the route's path does not supply; null when all are there, or
    /// when either pattern does not parse (YARP's own error, or Match.Path's).</summary>
    private static string? MissingRouteValue(string pathPattern, string? routePath)
    {
        try
        {
            var supplied = routePath is null ? [] : RoutePatternFactory.Parse(routePath).Parameters.Select(static p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            return RoutePatternFactory.Parse(pathPattern).Parameters
                .FirstOrDefault(p => !p.IsOptional && !p.IsCatchAll && !supplied.Contains(p.Name))?.Name;
        }
        catch (RoutePatternException)
        {
            return null;
        }
    }
}
