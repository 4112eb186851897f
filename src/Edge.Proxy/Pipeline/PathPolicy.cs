namespace Edge.Proxy.Pipeline;

/// <summary>
/// Refuses a path that routes here as one thing and could reach the backend as another. Kestrel removes plain dot
/// segments and decodes every escape except <c>%2F</c>, and YARP forwards the path as it is; a backend that also splits
/// at <c>\</c> (IIS, some Windows and Java stacks) or decodes <c>%2F</c>/<c>%5C</c> before resolving dot segments (nginx
/// <c>merge_slashes</c>/normalisation, several frameworks) would turn <c>/orders/..\secure\admin</c> or
/// <c>/orders/..%2Fsecure%2Fadmin</c>, matched by the <c>orders</c> route, into <c>/secure/admin</c>, whose steps never ran.
/// </summary>
/// <remarks>
/// Only a <c>.</c> or <c>..</c> segment hidden that way is refused: an encoded slash inside a name
/// (<c>/projects/group%2Fproject</c>) is forwarded unchanged, as before.
/// </remarks>
internal static class PathPolicy
{
    public const string ReasonCode = "path_invalid";

    public static readonly EdgeDenial Denial = new(StatusCodes.Status400BadRequest, ReasonCode, "Path invalid",
        "The path holds a '.' or '..' segment behind a backslash or an encoded slash.");

    public static bool HidesDotSegment(string? path)
    {
        // The common path has neither a backslash nor an escape: one vectorised scan.
        if (string.IsNullOrEmpty(path) || path.AsSpan().IndexOfAny('%', '\\') < 0)
        {
            return false;
        }

        var span = path.AsSpan();
        var start = 0;
        var i = 0;
        while (i <= span.Length)
        {
            var separator = i == span.Length || span[i] is '/' or '\\' ? 1 : IsEncodedSeparator(span, i) ? 3 : 0;
            if (separator == 0)
            {
                i++;
                continue;
            }

            if (IsDotSegment(span[start..i]))
            {
                return true;
            }

            i += separator;
            start = i;
        }

        return false;
    }

    private static bool IsEncodedSeparator(ReadOnlySpan<char> path, int i) =>
        path[i] == '%' && i + 2 < path.Length
        && (path.Slice(i + 1, 2).Equals("2F", StringComparison.OrdinalIgnoreCase) || path.Slice(i + 1, 2).Equals("5C", StringComparison.OrdinalIgnoreCase));

    // Kestrel has decoded %2E already; an escaped dot is checked anyway in case a host in front left it encoded.
    private static bool IsDotSegment(ReadOnlySpan<char> segment) =>
        segment is "." or ".."
        || segment.Equals("%2E", StringComparison.OrdinalIgnoreCase)
        || segment.Equals("%2E%2E", StringComparison.OrdinalIgnoreCase)
        || segment.Equals(".%2E", StringComparison.OrdinalIgnoreCase)
        || segment.Equals("%2E.", StringComparison.OrdinalIgnoreCase);
}
