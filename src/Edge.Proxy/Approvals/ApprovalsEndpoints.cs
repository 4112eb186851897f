using Edge.Shared;

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

    private const string UiPath = ApprovalFingerprint.ApiPrefix + "/ui";

    public static void MapEdgeApprovals(this WebApplication app)
    {
        var api = app.Services.GetRequiredService<ApprovalsApi>();
        var unrouted = app.Services.GetRequiredService<Edge.Proxy.Pipeline.UnroutedRequests>();
        var pages = EmbeddedPages.Load(typeof(ApprovalsEndpoints).Assembly, "approvals-ui/", UiPath, ContentSecurityPolicy, "no-store");
        var group = app.MapGroup(ApprovalFingerprint.ApiPrefix).WithOrder(int.MinValue);

        // Routing precedence decides the overlaps the analyzer reports: the literal /ui beats {id}, and {id} beats the
        // catch-all, which only answers what no other endpoint here matches (another path, or another method).
#pragma warning disable ASP0022
        group.MapGet("", (HttpContext http) => api.GuardAsync(http, () => api.ListAsync(http)));
        group.MapGet("/{id}", (HttpContext http, string id) => api.GuardAsync(http, () => api.GetAsync(http, id)));
        group.MapPost("/{id}/approve", (HttpContext http, string id) => api.GuardAsync(http, () => api.ApproveAsync(http, id)));
        group.MapPost("/{id}/reject", (HttpContext http, string id) => api.GuardAsync(http, () => api.RejectAsync(http, id)));
        group.MapGet("/ui/{file?}", (HttpContext http, string? file) => ServePageAsync(http, file, pages, unrouted));
        group.Map("/{**rest}", (HttpContext http) => ApprovalsApi.UnmatchedAsync(http, unrouted));
#pragma warning restore ASP0022
    }

    /// <summary>
    /// The page's files pass the gate of a request no route takes first (a banned client gets 403 <c>client_blocked</c>,
    /// recorded); a file the page does not have is the same 404 as any other unknown path under the prefix.
    /// </summary>
    private static async Task ServePageAsync(HttpContext http, string? file, EmbeddedPages pages, Edge.Proxy.Pipeline.UnroutedRequests unrouted)
    {
        http.Response.Headers.CacheControl = "no-store";
        if (await unrouted.RefusedAsync(http))
        {
            return;
        }

        if (pages.Serve(http, file) is { } page)
        {
            await page.ExecuteAsync(http);
        }
        else
        {
            await ApprovalsApi.NoSuchEndpointAsync(http, unrouted);
        }
    }
}
