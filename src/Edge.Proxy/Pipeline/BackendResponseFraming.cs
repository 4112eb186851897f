using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Refuses a backend response whose framing the edge cannot vouch for, before any of it reaches the client:
/// <list type="bullet">
/// <item>a <c>101 Switching Protocols</c> to a request that asked for no upgrade. Kestrel cannot switch such a request, so
/// the client got a bare <c>101</c> that switched nothing and its connection answered nothing more (a client or a proxy in
/// front of the edge that believed it would read every later byte as a tunnel), while the record said 101 allowed;</item>
/// <item><c>Transfer-Encoding</c> beside <c>Content-Length</c>. RFC 9112 §6.3 makes the coding win, but a backend that
/// sends both may have framed its body by the length (a reflected header, a broken filter), and then the rest of that
/// body is what the edge would read next. nginx answers such a response with 502; so does the edge.</item>
/// </list>
/// The refusal is thrown, so YARP drops the backend's connection with the response and reports
/// <c>ForwarderError.ResponseHeaders</c>, which <see cref="EdgeRequestMiddleware"/> answers as
/// <c>502 backend_response_invalid</c> and records.
/// </summary>
internal sealed class BackendResponseFraming : ResponseTransform
{
    public static readonly BackendResponseFraming Instance = new();

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.ProxyResponse is not { } response)
        {
            return ValueTask.CompletedTask;
        }

        if (response.StatusCode == HttpStatusCode.SwitchingProtocols && !AskedForUpgrade(context.HttpContext))
        {
            throw new HttpRequestException(HttpRequestError.InvalidResponse, "The backend switched protocols on a request that asked for no upgrade.");
        }

        if (response.Headers.NonValidated.Contains(HeaderNames.TransferEncoding) && response.Content.Headers.NonValidated.Contains(HeaderNames.ContentLength))
        {
            throw new HttpRequestException(HttpRequestError.InvalidResponse, "The backend sent both Transfer-Encoding and Content-Length.");
        }

        return ValueTask.CompletedTask;
    }

    private static bool AskedForUpgrade(HttpContext context) =>
        context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        || context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true };
}
