using System.Collections.Frozen;
using System.Reflection;
using Microsoft.AspNetCore.Http;

namespace Edge.Shared;

/// <summary>
/// A browser page shipped as resources embedded in its host's assembly (read once at startup) and served with one set of
/// security headers, so the approver page and the audit viewer cannot drift apart on them. Shared source, compiled into
/// Edge.Proxy and Edge.AuditWriter (the way ASP.NET Core shares its src/Shared helpers): the one library both hosts
/// reference, Edge.Configuration, is the config model, not a place for serving pages.
/// </summary>
internal sealed class EmbeddedPages
{
    private readonly FrozenDictionary<string, (byte[] Content, string ContentType)> _files;
    private readonly string _basePath;
    private readonly string _contentSecurityPolicy;
    private readonly string _cacheControl;

    private EmbeddedPages(FrozenDictionary<string, (byte[] Content, string ContentType)> files, string basePath, string contentSecurityPolicy, string cacheControl)
    {
        _files = files;
        _basePath = basePath;
        _contentSecurityPolicy = contentSecurityPolicy;
        _cacheControl = cacheControl;
    }

    /// <summary>
    /// The resources named <paramref name="resourcePrefix"/>* of <paramref name="assembly"/>, served under
    /// <paramref name="basePath"/> with <paramref name="cacheControl"/>: the host's, as the rest of its answers under that path.
    /// </summary>
    public static EmbeddedPages Load(Assembly assembly, string resourcePrefix, string basePath, string contentSecurityPolicy, string cacheControl)
    {
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(resourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var file = name[resourcePrefix.Length..];
            files[file] = (buffer.ToArray(), Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            });
        }

        return new EmbeddedPages(files.ToFrozenDictionary(StringComparer.Ordinal), basePath.TrimEnd('/') + "/", contentSecurityPolicy, cacheControl);
    }

    /// <summary>
    /// The answer for <paramref name="file"/> (null: the page's index), or null when no such file is embedded, so the host
    /// answers with its own problem+json 404.
    /// </summary>
    public IResult? Serve(HttpContext context, string? file)
    {
        // Routing matches the base path with and without its slash; relative asset links need the slash.
        if (file is null && !context.Request.Path.Value!.EndsWith('/'))
        {
            return Results.Redirect(_basePath, permanent: true);
        }

        if (!_files.TryGetValue(file ?? "index.html", out var asset))
        {
            return null;
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = _contentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        // frame-ancestors keeps the page out of frames, but window.open gave a script of the same origin (on the proxy
        // listener that is every backend behind the edge) a handle to its DOM: the list, the token, the credential typed.
        // An opener without this same policy now gets a handle to a closed window.
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = _cacheControl;
        return Results.Bytes(asset.Content, asset.ContentType);
    }
}
