namespace Edge.Configuration;

/// <summary>A URL as an error message may repeat it: without the user name and password a refused URL may carry.</summary>
internal static class UrlText
{
    public static string WithoutUserInfo(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            return url;
        }

        var start = scheme + 3;
        var end = url.IndexOfAny(['/', '?', '#'], start);
        end = end < 0 ? url.Length : end;
        var at = url.AsSpan(start, end - start).LastIndexOf('@');
        return at < 0 ? url : string.Concat(url.AsSpan(0, start), "…@", url.AsSpan(start + at + 1));
    }
}
