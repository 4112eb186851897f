using System.Collections.Frozen;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Maps the approvals API and the approver page under <c>/_edge/approvals</c> on the proxy listener. The endpoints
/// come before every proxy route (the lowest order), and anything else under the prefix is a 404 here, so no route,
/// even a catch-all <c>/{**rest}</c>, forwards an approvals call to a backend. The management port filter keeps them
/// off the management listener.
/// </summary>
internal static class ApprovalsEndpoints
{
    /// <summary>The page talks only to this origin's API, with a credential it keeps in memory.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string ResourcePrefix = "approvals-ui/";
    private const string UiPath = ApprovalFingerprint.ApiPrefix + "/ui";

    public static void MapEdgeApprovals(this WebApplication app)
    {
        var api = app.Services.GetRequiredService<ApprovalsApi>();
        var files = LoadFiles();
        var group = app.MapGroup(ApprovalFingerprint.ApiPrefix).WithOrder(int.MinValue);

        // Routing precedence decides the overlaps the analyzer reports: the literal /ui beats {id}, and {id} beats the
        // catch-all, which only answers what no other endpoint here matches (another path, or another method).
#pragma warning disable ASP0022
        group.MapGet("", (HttpContext http) => api.GuardAsync(http, () => api.ListAsync(http)));
        group.MapGet("/{id}", (HttpContext http, string id) => api.GuardAsync(http, () => api.GetAsync(http, id)));
        group.MapPost("/{id}/approve", (HttpContext http, string id) => api.GuardAsync(http, () => api.ApproveAsync(http, id)));
        group.MapPost("/{id}/reject", (HttpContext http, string id) => api.GuardAsync(http, () => api.RejectAsync(http, id)));
        group.MapGet("/ui/{file?}", (HttpContext http, string? file) => ServeUi(http, files, file));
        group.Map("/{**rest}", ApprovalsApi.NotFoundAsync);
#pragma warning restore ASP0022
    }

    private static IResult ServeUi(HttpContext http, FrozenDictionary<string, (byte[] Content, string ContentType)> files, string? file)
    {
        // Relative asset links need the trailing slash.
        if (file is null && !http.Request.Path.Value!.EndsWith('/'))
        {
            return Results.Redirect(UiPath + "/", permanent: true);
        }

        if (!files.TryGetValue(file ?? "index.html", out var asset))
        {
            return Results.NotFound();
        }

        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static FrozenDictionary<string, (byte[] Content, string ContentType)> LoadFiles()
    {
        var assembly = typeof(ApprovalsEndpoints).Assembly;
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
