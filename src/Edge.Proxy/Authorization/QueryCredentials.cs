using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Authorization;

/// <summary>
/// A bearer token in the URI query (<c>?access_token=</c>, RFC 6750 section 2.3). The edge reads credentials from
/// headers only, so a token there was never checked; a backend that accepts query tokens (many OAuth middlewares and
/// PHP frameworks do) would take it for the caller the edge vouched for. It is removed from the forwarded query under
/// the same rule as an unchecked header (<see cref="AuthenticateStep"/>).
/// </summary>
internal static class QueryCredentials
{
    private const string Name = "access_token";

    /// <summary>Removes every <c>access_token</c> parameter (any case or escape, and what PHP, Rack and qs read as it) from the forwarded query.</summary>
    public static void Remove(RequestTransformContext transform)
    {
        var query = transform.HttpContext.Request.QueryString.Value;
        // Cheap test first: nearly every query has no "token" in it (an escaped name still has its letters escaped, so
        // the decoded test below runs whenever one could be there).
        if (string.IsNullOrEmpty(query) || !(query.Contains("token", StringComparison.OrdinalIgnoreCase) || query.Contains('%'))
            || !Carries(query))
        {
            return;
        }

        // Only now is the query parsed and rebuilt (YARP re-encodes the other parameters when the collection is
        // touched): a request without a query token is forwarded byte for byte. The names are the collection's own
        // decoding, which is what YARP writes back. A parameter hiding a token behind ';' (x=1;access_token=...) is
        // removed whole: the collection splits on '&' only.
        var collection = transform.Query.Collection;
        List<string>? names = null;
        foreach (var (name, values) in collection)
        {
            if (IsAccessToken(name) || HidesBehindSemicolon(name, values))
            {
                (names ??= []).Add(name);
            }
        }

        foreach (var name in names ?? [])
        {
            collection.Remove(name);
        }
    }

    /// <summary>
    /// True when query or form text has an <c>access_token</c> parameter (<see cref="IsAccessToken"/>) split at '&amp;',
    /// or at ';' too, as Rack 2, Python before 3.9.2 and Go before 1.17 split it.
    /// </summary>
    internal static bool Carries(string? text) =>
        !string.IsNullOrEmpty(text) && (HasName(text) || ParameterNames.SemicolonSplit(text) is { } split && HasName(split));

    private static bool HasName(string text)
    {
        foreach (var pair in new QueryStringEnumerable(text))
        {
            if (IsAccessToken(pair.DecodeName().Span))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HidesBehindSemicolon(string name, StringValues values)
    {
        foreach (var value in values)
        {
            if ((name.Contains(';', StringComparison.Ordinal) || value?.Contains(';', StringComparison.Ordinal) == true)
                && HasName($"{name}={value}".Replace(';', '&')))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True for every name a backend's parameter parser files under <c>access_token</c>:
    /// <list type="bullet">
    /// <item>the name in any case, and as PHP spells it (<c>access.token</c>, <c>access token</c>, <c>access[token</c>:
    /// PHP turns ' ', '.' and an unclosed '[' in a parameter name into '_');</item>
    /// <item>its array and hash forms (<c>access_token[]</c>, <c>access_token[0]</c>, <c>access_token[a]</c>), which PHP,
    /// Rack and qs read as the <c>access_token</c> parameter, and a backend taking the first element takes the token;</item>
    /// <item>what is left once PHP drops leading spaces and everything from a NUL (it reads names as C strings), and Rack 2
    /// and qs drop leading brackets and a trailing ']' (<c>[access_token]</c>, <c>access_token]</c>).</item>
    /// </list>
    /// A few names no parser reads as the token (<c>access_token[</c>) are removed too; nothing legitimate is called that.
    /// </summary>
    internal static bool IsAccessToken(ReadOnlySpan<char> name)
    {
        return IsSpelling(name) || IsSpelling(ParameterNames.BaseName(name));
    }

    private static bool IsSpelling(ReadOnlySpan<char> name)
    {
        if (name.Length != Name.Length)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var expected = Name[i];
            if (expected == '_' ? c is not ('_' or ' ' or '.' or '[') : char.ToLowerInvariant(c) != expected)
            {
                return false;
            }
        }

        return true;
    }
}
