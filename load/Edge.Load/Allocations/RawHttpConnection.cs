using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Edge.Load.Allocations;

/// <summary>
/// One keep-alive HTTP/1.1 connection that sends a request formatted once and reads each response into a reused
/// buffer, so the client itself allocates nothing per request and the process's allocation counter measures the
/// servers it talks to. Only what the harness's targets answer is understood: a status line, headers and a
/// <c>Content-Length</c> body.
/// </summary>
internal sealed class RawHttpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _request;
    private readonly byte[] _buffer = new byte[64 * 1024];

    private RawHttpConnection(Socket socket, byte[] request)
    {
        _socket = socket;
        _request = request;
    }

    public static async Task<RawHttpConnection> OpenAsync(int port, string path, IReadOnlyList<KeyValuePair<string, string>> headers, CancellationToken cancellationToken)
    {
        var request = new StringBuilder()
            .Append("GET ").Append(path).Append(" HTTP/1.1\r\nHost: 127.0.0.1:").Append(port).Append("\r\n");
        foreach (var (name, value) in headers)
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        request.Append("\r\n");
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new RawHttpConnection(socket, Encoding.ASCII.GetBytes(request.ToString()));
    }

    /// <summary>Sends the request once and returns the response's status code after its whole body has arrived.</summary>
    public async ValueTask<int> SendAsync(CancellationToken cancellationToken)
    {
        await _socket.SendAsync(_request.AsMemory(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var received = 0;
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(0, received).IndexOf("\r\n\r\n"u8)) < 0)
        {
            received += await ReceiveSomeAsync(received, cancellationToken).ConfigureAwait(false);
        }

        var head = _buffer.AsSpan(0, headerEnd);
        var status = ParseStatus(head);
        var bodyLength = ParseContentLength(head);
        var total = headerEnd + 4 + bodyLength;
        if (total > _buffer.Length)
        {
            throw new InvalidDataException($"a response of {total} bytes does not fit the harness's buffer.");
        }

        while (received < total)
        {
            received += await ReceiveSomeAsync(received, cancellationToken).ConfigureAwait(false);
        }

        if (received != total)
        {
            throw new InvalidDataException("the server sent bytes after the response: the harness sends one request at a time.");
        }

        return status;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<int> ReceiveSomeAsync(int offset, CancellationToken cancellationToken)
    {
        if (offset == _buffer.Length)
        {
            throw new InvalidDataException("the response head does not fit the harness's buffer.");
        }

        var read = await _socket.ReceiveAsync(_buffer.AsMemory(offset), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        return read > 0 ? read : throw new IOException("the server closed the connection.");
    }

    private static int ParseStatus(ReadOnlySpan<byte> head) =>
        head.Length >= 12 && head.StartsWith("HTTP/1.1 "u8) && Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _)
            ? status
            : throw new InvalidDataException("the response has no HTTP/1.1 status line.");

    private static int ParseContentLength(ReadOnlySpan<byte> head)
    {
        foreach (var range in head.Split("\r\n"u8))
        {
            var line = head[range];
            if (line.Length > 15 && Ascii.EqualsIgnoreCase(line[..15], "Content-Length:"u8)
                && Utf8Parser.TryParse(line[15..].Trim((byte)' '), out int length, out _))
            {
                return length;
            }

            if (line.Length > 18 && Ascii.EqualsIgnoreCase(line[..18], "Transfer-Encoding:"u8))
            {
                throw new InvalidDataException("the response is chunked; the harness's targets all send Content-Length.");
            }
        }

        return 0;
    }
}
