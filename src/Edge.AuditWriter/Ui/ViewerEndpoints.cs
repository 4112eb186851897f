using System.Collections.Frozen;

namespace Edge.AuditWriter.Ui;

/// <summary>
/// Serves the audit viewer (<c>/ui/</c>): its static files embedded in the writer assembly, read once at startup.
/// The page talks only to this writer's read API with credentials it keeps in memory, so the CSP allows nothing but
/// this origin and no framing.
/// </summary>
internal static class ViewerEndpoints
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

    private const string ResourcePrefix = "ui/";

    public static void Map(WebApplication app)
    {
        var files = LoadFiles();
        // Routing matches /ui and /ui/ alike; relative asset links need the slash, so /ui alone is redirected.
        app.MapGet("/ui/{file?}", (HttpContext context, string? file) =>
        {
            if (file is null && !context.Request.Path.Value!.EndsWith('/'))
            {
                return Results.Redirect("/ui/", permanent: true);
            }

            if (!files.TryGetValue(file ?? "index.html", out var asset))
            {
                return Results.NotFound();
            }

            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.CacheControl = "no-cache";
            return Results.Bytes(asset.Content, asset.ContentType);
        });
    }

    private static FrozenDictionary<string, (byte[] Content, string ContentType)> LoadFiles()
    {
        var assembly = typeof(ViewerEndpoints).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var file = name[ResourcePrefix.Length..];
            files[file] = (buffer.ToArray(), Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            });
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
