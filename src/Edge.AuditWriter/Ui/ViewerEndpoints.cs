using Edge.AuditWriter.Api;
using Edge.Shared;

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

    public static void Map(WebApplication app)
    {
        var pages = EmbeddedPages.Load(typeof(ViewerEndpoints).Assembly, "ui/", "/ui/", ContentSecurityPolicy, "no-cache");
        app.MapGet("/ui/{file?}", (HttpContext context, string? file) =>
            pages.Serve(context, file) ?? Problems.Create(StatusCodes.Status404NotFound, "not_found", "Not found", "The audit viewer has no such file."))
            .WithMetadata(ReadEndpoints.GetOrHead);
    }
}
