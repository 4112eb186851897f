namespace Edge.Proxy.Pipeline;

/// <summary>
/// A header a rate-limit or ban key reads (<c>{header:Name}</c>) must come once. Sent twice, or also under a name with
/// '_' for '-', the key read one copy while the backend may read another (the last, both joined, or a CGI variable both
/// spellings map to): a client picked its bucket, or walked past a ban of its value, by sending a second copy. Refused
/// with 400 <c>header_repeated</c>, as <c>EdgeTenant</c> refuses a repeated tenant header.
/// </summary>
internal static class KeyHeaders
{
    public const string RepeatedCode = "header_repeated";

    /// <summary>
    /// The first of <paramref name="names"/> that the request sends on more than one field line or also under another
    /// spelling of '-' and '_'; null when none. Allocation-free.
    /// </summary>
    public static string? Repeated(HttpContext http, string[] names)
    {
        if (names.Length == 0)
        {
            return null;
        }

        var headers = http.Request.Headers;
        // The request middleware saw every header name on arrival: without a '_' among them (nearly always) there is no
        // alias to look for. A configured name with '_' has a '-' alias.
        var mayHaveAlias = http.GetEdgeRequest() is not { HasUnderscoreHeaderName: false };
        for (var i = 0; i < names.Length; i++)
        {
            var name = names[i];
            if (headers[name].Count > 1
                || ((mayHaveAlias || name.Contains('_', StringComparison.Ordinal)) && HeaderName.HasUnderscoreAlias(headers, name)))
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>The refusal of a request that repeats <paramref name="name"/>; the detail names the header, never its values.</summary>
    public static EdgeDenial Denial(string name) => new(
        StatusCodes.Status400BadRequest,
        RepeatedCode,
        "Header repeated",
        $"The {name} header must be sent once, and not also with '_' for '-': the edge limits or bans requests by its value.")
    {
        Reason = RepeatedCode,
    };
}
