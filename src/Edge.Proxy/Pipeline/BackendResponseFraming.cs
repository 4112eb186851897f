using System.Net;
using System.Net.Sockets;
using Microsoft.Net.Http.Headers;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Refuses an HTTP/1.x backend response whose framing the edge cannot vouch for, before any of it reaches the client, and
/// closes the connection it came on:
/// <list type="bullet">
/// <item>a <c>101 Switching Protocols</c> to a request that asked for no upgrade. Kestrel cannot switch such a request, so
/// the client got a bare <c>101</c> that switched nothing and its connection answered nothing more (a client or a proxy in
/// front of the edge that believed it would read every later byte as a tunnel), while the record said 101 allowed;</item>
/// <item><c>Transfer-Encoding</c> beside <c>Content-Length</c>. RFC 9112 §6.3 makes the coding win, but a backend that
/// sends both may have framed its body by the length (a reflected header, a broken filter), and then the rest of that
/// body is what the edge would read as the next answer on that connection. nginx answers such a response with 502.</item>
/// </list>
/// Refusing is not enough: HttpClient drains or has already read the body by the framing it chose and puts the connection
/// back in its pool. So every backend connection is a <see cref="Connection"/>, and the send that got such an answer
/// closes the one it wrote to. The refusal is an <see cref="HttpRequestException"/> with
/// <see cref="HttpRequestError.InvalidResponse"/>, which <see cref="EdgeRequestMiddleware"/> answers as
/// <c>502 backend_response_invalid</c> and records.
/// </summary>
internal static class BackendResponseFraming
{
    // The connection the current send wrote to: set by Connection.WriteAsync in the send's own flow, read after it.
    private static readonly AsyncLocal<SendSlot?> Sending = new();

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

    /// <summary>Sends through <paramref name="send"/>; a response refused here closes its connection and throws.</summary>
    public static async Task<HttpResponseMessage> SendCheckedAsync(HttpRequestMessage request, Task<HttpResponseMessage> send, SendSlot slot)
    {
        var response = await send;
        if (response.Version.Major != 1 || Refusal(request, response) is not { } reason)
        {
            return response;
        }

        slot.Connection?.Dispose();
        response.Dispose();
        throw new HttpRequestException(HttpRequestError.InvalidResponse, reason);
    }

    /// <summary>Starts tracking the connection the current send writes to.</summary>
    public static SendSlot Track()
    {
        var slot = new SendSlot();
        Sending.Value = slot;
        return slot;
    }

    private static string? Refusal(HttpRequestMessage request, HttpResponseMessage response)
    {
        if (response.StatusCode == HttpStatusCode.SwitchingProtocols && request.Headers.Upgrade.Count == 0)
        {
            return "The backend switched protocols on a request that asked for no upgrade.";
        }

        return response.Headers.NonValidated.Contains(HeaderNames.TransferEncoding) && response.Content.Headers.NonValidated.Contains(HeaderNames.ContentLength)
            ? "The backend sent both Transfer-Encoding and Content-Length."
            : null;
    }

    /// <summary>Holds the connection one send wrote to.</summary>
    internal sealed class SendSlot
    {
        public Connection? Connection { get; set; }
    }

    /// <summary>A backend connection that tells the send writing to it which connection it is.</summary>
    internal sealed class Connection(Socket socket) : NetworkStream(socket, ownsSocket: true)
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Sending.Value is { } sending)
            {
                sending.Connection = this;
            }

            return base.WriteAsync(buffer, cancellationToken);
        }
    }
}
