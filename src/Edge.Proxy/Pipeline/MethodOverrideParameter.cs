using Microsoft.AspNetCore.WebUtilities;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// A <c>_method</c> query parameter naming another method than the request line's. Laravel and Symfony (with
/// <c>http_method_override</c>) read it on a POST and dispatch as that method, so <c>POST /orders/7?_method=DELETE</c>
/// reached the backend's DELETE handler with the checks of the route the edge matched for POST (its <c>Methods</c>, its
/// steps, an approval bound to the method). The override headers are removed instead (<see cref="RoutingOverrideHeaders"/>)
/// because nothing else reads them; a query parameter is part of the URL the backend and the audit record see, so the
/// request is refused. A form body's <c>_method</c> (Rails, Laravel and Symfony HTML forms) is not looked at: the edge
/// does not read bodies on routes without a body step.
/// </summary>
internal static class MethodOverrideParameter
{
    public const string ReasonCode = "method_override";

    public static readonly EdgeDenial Denial = new(StatusCodes.Status400BadRequest, ReasonCode, "Method override refused",
        "The query names another method (_method) than the request's; send the request with that method instead.");

    /// <summary>True when a <c>_method</c> parameter (any spelling of its escapes) names a method other than <paramref name="method"/>.</summary>
    public static bool Overrides(string method, QueryString query)
    {
        var value = query.Value;
        // Cheap test first: nearly every query has no "method" in it.
        if (string.IsNullOrEmpty(value) || !value.Contains("method", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // QueryStringEnumerable decodes '+' and percent escapes as the backend's query parser does.
        foreach (var pair in new QueryStringEnumerable(value))
        {
            // PHP turns ' ', '.' and '[' in a parameter name into '_': ".method" and "+method" are $_GET['_method'] too.
            var name = pair.DecodeName().Span;
            if (name.Length != 7 || name[1..] is not "method" || name[0] is not ('_' or ' ' or '.' or '['))
            {
                continue;
            }

            if (!pair.DecodeValue().Span.Trim().Equals(method, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
