using Microsoft.AspNetCore.WebUtilities;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// A <c>_method</c> query parameter naming another method than the request line's. Laravel and Symfony (with
/// <c>http_method_override</c>) read it on a POST and dispatch as that method, so <c>POST /orders/7?_method=DELETE</c>
/// reached the backend's DELETE handler with the checks of the route the edge matched for POST (its <c>Methods</c>, its
/// steps, an approval bound to the method). The override headers are removed instead (<see cref="RoutingOverrideHeaders"/>)
/// because nothing else reads them; a query parameter is part of the URL the backend and the audit record see, so the
/// request is refused. A form body's <c>_method</c> (Rails, Laravel and Symfony HTML forms) is refused the same way on
/// every route whose body the edge reads (a body step, or <c>EdgeAuthenticate</c>, which reads form bodies); on other
/// routes the body streams to the backend unread.
/// </summary>
internal static class MethodOverrideParameter
{
    public const string ReasonCode = "method_override";

    public static readonly EdgeDenial Denial = new(StatusCodes.Status400BadRequest, ReasonCode, "Method override refused",
        "The query names another method (_method) than the request's; send the request with that method instead.");

    public static readonly EdgeDenial FormDenial = new(StatusCodes.Status400BadRequest, ReasonCode, "Method override refused",
        "The form body names another method (_method) than the request's; send the request with that method instead.")
    {
        Reason = ReasonCode + ":form",
    };

    /// <summary>True when a <c>_method</c> parameter (any spelling of its escapes) names a method other than <paramref name="method"/>.</summary>
    public static bool Overrides(string method, QueryString query) => Overrides(method, query.Value);

    /// <summary>True when a form body's <c>_method</c> field, as a backend may decode it, names a method other than <paramref name="method"/>.</summary>
    public static bool OverridesInForm(string method, string? contentType, EdgeBodyFeature body)
    {
        var (bytes, declared) = body.Form(contentType);
        return Overrides(method, bytes) || Overrides(method, declared);
    }

    private static bool Overrides(string method, string? value)
    {
        // Cheap test first: nearly every query has no "method" in it. An escaped letter (_%6Dethod) hides the word, so
        // any escape sends the query to the decoding test too.
        if (string.IsNullOrEmpty(value) || !(value.Contains("method", StringComparison.OrdinalIgnoreCase) || value.Contains('%')))
        {
            return false;
        }

        return NamesAnother(method, value) || (ParameterNames.SemicolonSplit(value) is { } split && NamesAnother(method, split));
    }

    private static bool NamesAnother(string method, string text)
    {
        // QueryStringEnumerable decodes '+' and percent escapes as the backend's query parser does.
        foreach (var pair in new QueryStringEnumerable(text))
        {
            var name = pair.DecodeName().Span;
            if ((IsSpelling(name) || IsSpelling(ParameterNames.BaseName(name)))
                && !pair.DecodeValue().Span.Trim().Equals(method, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    // PHP turns ' ', '.' and '[' in a parameter name into '_': ".method" and "+method" are $_GET['_method'] too.
    private static bool IsSpelling(ReadOnlySpan<char> name) =>
        name.Length == 7 && name[1..] is "method" && name[0] is ('_' or ' ' or '.' or '[');
}
