using System.Net;
using System.Net.Sockets;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Refuses an HTTP/1.x backend response whose framing the edge cannot vouch for, before any of it reaches the client, and
/// closes the connection it came on:
/// <list type="bullet">
/// <item>a <c>101 Switching Protocols</c> to a request that asked for no upgrade. Kestrel cannot switch such a request, so
/// the client got a bare <c>101</c> that switched nothing and its connection answered nothing more (a client or a proxy in
/// front of the edge that believed it would read every later byte as a tunnel), while the record said 101 allowed;</item>
/// <item>a <c>101</c> to a WebSocket upgrade without the <c>Sec-WebSocket-Accept</c> of the request's key: no WebSocket
/// server answers so, and after the switch the edge relays every byte unread, so a backend that is no WebSocket server
/// (a status taken from a parameter, a broken handler) let the client send raw requests for any of its paths past the
/// steps (WebSocket smuggling);</item>
/// <item><c>Transfer-Encoding</c> beside <c>Content-Length</c>. RFC 9112 §6.3 makes the coding win, but a backend that
/// sends both may have framed its body by the length (a reflected header, a broken filter), and then the rest of that
/// body is what the edge would read as the next answer on that connection. nginx answers such a response with 502.</item>
/// </list>
/// Refusing is not enough: HttpClient drains or has already read the body by the framing it chose and puts the connection
/// back in its pool. So every backend connection is a <see cref="Connection"/>, which notes itself on the request
/// (<see cref="EdgeRequestFeature.BackendConnection"/>) whose send writes to it, and the check closes the one the refused
/// response came on. The check runs in <see cref="Transformer"/>, in the forwarder's own await of the response, before
/// its headers are copied; the refusal is an <see cref="HttpRequestException"/> with
/// <see cref="HttpRequestError.InvalidResponse"/>, which YARP reports as a response-header error and
/// <see cref="EdgeRequestMiddleware"/> answers as <c>502 backend_response_invalid</c> and records.
/// </summary>
internal static class BackendResponseFraming
{
    private const string WebSocketKey = "Sec-WebSocket-Key";
    private const string WebSocketAccept = "Sec-WebSocket-Accept";

    // RFC 6455 section 1.3: the GUID a server appends to the key before hashing it into Sec-WebSocket-Accept.
    private const string WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    // The request whose flow is running: Connection.WriteAsync runs in the flow of the send that writes, so a pooled
    // connection notes itself on the request using it now, never on the one that opened it or on a concurrent one. Set
    // once per request by EdgeRequestMiddleware, to the feature that request already has (no slot object per request).
    private static readonly AsyncLocal<EdgeRequestFeature?> Sending = new();

    /// <summary>Makes <paramref name="request"/> the one the backend connections written in this flow note themselves on.</summary>
    public static void Track(EdgeRequestFeature request) => Sending.Value = request;

    /// <summary>SocketsHttpHandler's default connect (one dual-mode socket, no Nagle), returning a stream the edge can close.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new Connection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Throws for a response refused here, after closing the connection it came on.</summary>
    public static void Check(HttpContext context, HttpResponseMessage? response)
    {
        // HTTP/2 and 3 frame every response themselves, and their connections carry other requests' streams: such a
        // connection is never closed here (it notes itself only with its preface, written in the opening request's flow;
        // its write loop runs without any request's flow).
        if (response is null || response.Version.Major != 1 || Refusal(response) is not { } reason)
        {
            return;
        }

        Refuse(context, reason);
    }

    private static void Refuse(HttpContext context, string reason)
    {
        context.GetEdgeRequest()?.BackendConnection?.Dispose();
        throw new HttpRequestException(HttpRequestError.InvalidResponse, reason);
    }

    private static string? Refusal(HttpResponseMessage response)
    {
        if (response.StatusCode == HttpStatusCode.SwitchingProtocols)
        {
            if (response.RequestMessage?.Headers.Upgrade.Count is null or 0)
            {
                return "The backend switched protocols on a request that asked for no upgrade.";
            }

            if (IsWebSocketUpgrade(response.RequestMessage) && !AcceptsWebSocketKey(response.RequestMessage, response))
            {
                return "The backend answered a WebSocket upgrade with 101 but without the Sec-WebSocket-Accept of its key.";
            }
        }

        return response.Headers.NonValidated.Contains(HeaderNames.TransferEncoding) && response.Content.Headers.NonValidated.Contains(HeaderNames.ContentLength)
            ? "The backend sent both Transfer-Encoding and Content-Length."
            : null;
    }

    private static bool IsWebSocketUpgrade(HttpRequestMessage request)
    {
        foreach (var protocol in request.Headers.Upgrade)
        {
            if (string.Equals(protocol.Name, "websocket", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the 101 carries exactly one <c>Sec-WebSocket-Accept</c>, the one RFC 6455 section 4.2.2 derives from the
    /// key the request sent. A WebSocket server always sends it; a backend that is none (a status taken from a parameter,
    /// a broken handler) does not, and the edge would then relay raw requests for any of its paths past the steps.
    /// </summary>
    private static bool AcceptsWebSocketKey(HttpRequestMessage request, HttpResponseMessage response)
    {
        if (!request.Headers.NonValidated.TryGetValues(WebSocketKey, out var keys) || keys.Count != 1
            || !response.Headers.NonValidated.TryGetValues(WebSocketAccept, out var accepts) || accepts.Count != 1)
        {
            return false;
        }

        var expected = Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(
            System.Text.Encoding.ASCII.GetBytes(keys.ToString().Trim() + WebSocketGuid)));
        return string.Equals(accepts.ToString().Trim(), expected, StringComparison.Ordinal);
    }

    /// <summary>A backend connection that tells the request writing to it which connection it is.</summary>
    internal sealed class Connection(Socket socket) : NetworkStream(socket, ownsSocket: true)
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Sending.Value is { } request)
            {
                request.BackendConnection = this;
            }

            return base.WriteAsync(buffer, cancellationToken);
        }
    }

    /// <summary>
    /// A route's transformer with the check in front of its response step: the forwarder awaits that step anyway, so the
    /// check adds no async step of its own, and it runs before any header is copied (a header Kestrel refuses fails the
    /// copy, and the response would then be disposed, its connection pooled, before a response transform could close it).
    /// </summary>
    internal sealed class Transformer(HttpTransformer inner) : HttpTransformer
    {
#pragma warning disable CS0672, CS0618 // The obsolete overloads go to the inner transformer's, as YARP's own transformer does.
        public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix) =>
            inner.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix);

        public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse) =>
            TransformResponseAsync(httpContext, proxyResponse, CancellationToken.None);

        public override ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse) =>
            inner.TransformResponseTrailersAsync(httpContext, proxyResponse);
#pragma warning restore CS0672, CS0618

        public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken) =>
            inner.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
        {
            Check(httpContext, proxyResponse);
            return inner.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        }

        public override ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken) =>
            inner.TransformResponseTrailersAsync(httpContext, proxyResponse, cancellationToken);
    }

    /// <summary>YARP's transform builder, with every route's transformer wrapped in <see cref="Transformer"/>.</summary>
    internal sealed class TransformBuilder(ITransformBuilder inner) : ITransformBuilder
    {
        public IReadOnlyList<Exception> ValidateRoute(RouteConfig route) => inner.ValidateRoute(route);

        public IReadOnlyList<Exception> ValidateCluster(ClusterConfig cluster) => inner.ValidateCluster(cluster);

        public HttpTransformer Build(RouteConfig route, ClusterConfig? cluster) => new Transformer(inner.Build(route, cluster));

        public HttpTransformer Create(Action<TransformBuilderContext> action) => new Transformer(inner.Create(action));

        /// <summary>Wraps the builder AddReverseProxy registered; call after it.</summary>
        public static void Decorate(IServiceCollection services)
        {
            var yarp = services.LastOrDefault(d => d.ServiceType == typeof(ITransformBuilder) && d.ImplementationType is not null)
                ?? throw new InvalidOperationException("AddReverseProxy must register its transform builder before the edge wraps it.");
            services.Remove(yarp);
            services.AddSingleton<ITransformBuilder>(sp => new TransformBuilder((ITransformBuilder)ActivatorUtilities.CreateInstance(sp, yarp.ImplementationType!)));
        }
    }
}
