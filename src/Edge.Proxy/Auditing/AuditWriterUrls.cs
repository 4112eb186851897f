namespace Edge.Proxy.Auditing;

/// <summary>
/// <c>Edge:Audit:WriterUrl</c>: one writer's base address, or several separated by <c>;</c> (a leader and its standbys),
/// tried in that order.
/// </summary>
internal static class AuditWriterUrls
{
    public static IReadOnlyList<Uri> Parse(string value)
    {
        var entries = value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (entries.Length == 0)
        {
            throw new InvalidOperationException("Edge:Audit:WriterUrl is empty; set a writer's base address such as http://127.0.0.1:9902, or several separated by ';'.");
        }

        var urls = new List<Uri>(entries.Length);
        foreach (var entry in entries)
        {
            var uri = ParseEntry(entry);
            if (urls.Contains(uri))
            {
                throw new InvalidOperationException($"Edge:Audit:WriterUrl entry '{entry}' is listed twice.");
            }

            urls.Add(uri);
        }

        return urls;
    }

    private static Uri ParseEntry(string entry)
    {
        if (!Uri.TryCreate(entry, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            throw new InvalidOperationException($"Edge:Audit:WriterUrl entry '{UrlText.WithoutUserInfo(entry)}' must be an absolute http:// or https:// URL such as http://127.0.0.1:9902.");
        }

        // The writer URL is logged and exported as a metric label; the ingest token has its own secret reference.
        if (uri.UserInfo.Length > 0)
        {
            throw new InvalidOperationException(
                $"Edge:Audit:WriterUrl entry '{uri.Scheme}://{uri.Authority}' must not carry user info; put the ingest token in Edge:Audit:IngestToken.");
        }

        // The ingest path is fixed (/audit/ingest): a path, query or fragment here would be silently ignored.
        if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new InvalidOperationException(
                $"Edge:Audit:WriterUrl entry '{entry}' must be a base address (scheme, host, port) without a path, query or fragment.");
        }

        return uri;
    }
}
