using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Removes every approval policy's token header (<c>Edge:Approvals:*:Header</c>) from the forwarded request, on every
/// route. A token is a credential of the edge that no backend needs: on a route without an <c>EdgeApproval</c> step it
/// was forwarded as sent, so a backend (or its logs) received a token another route would still accept. Underscore
/// spellings (<c>X_Approval_Token</c>) go too: a backend that maps names to CGI variables reads them as the header.
/// </summary>
internal sealed class ApprovalTokenHeaderTransform(string[] headers) : RequestTransform
{
    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        foreach (var header in headers)
        {
            RemoveHeader(context, header);
        }

        if (context.HttpContext.GetEdgeRequest() is not { HasUnderscoreHeaderName: false })
        {
            RemoveUnderscoreAliases(context);
        }

        return ValueTask.CompletedTask;
    }

    private void RemoveUnderscoreAliases(RequestTransformContext context)
    {
        foreach (var alias in HeaderName.UnderscoreAliases(context.HttpContext.Request.Headers, headers) ?? [])
        {
            RemoveHeader(context, alias);
        }
    }
}
