using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Edge.Load.Allocations;

/// <summary>
/// The request-alloc harness's backend: a loopback HTTP/1.1 server that answers every GET with one fixed 200 and
/// allocates nothing per request. A Kestrel backend in the same process parsed every header the proxy sent into
/// strings of its own (an unknown header's name and value, a changed traceparent), so a proxy that forwards more headers
/// was charged for the backend's parsing too: the edge's in-process figure over bare YARP fell by about 530 B per
/// request with this backend, bytes bench.sh (backend in its own process) never counted. The response carries the headers Kestrel's
/// would (Content-Type, Content-Length, Date, Server), so the proxy parses what it parses behind a real backend.
/// </summary>
internal sealed class RawHttpBackend : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly Socket _listener;
    private readonly byte[] _response;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;

    private RawHttpBackend(Socket listener, byte[] response)
    {
        _listener = listener;
        _response = response;
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static RawHttpBackend Start(ReadOnlySpan<byte> body)
    {
        var head = new StringBuilder()
            .Append("HTTP/1.1 200 OK\r\nContent-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture))
            .Append("\r\nContent-Type: application/json\r\nDate: ").Append(DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture))
            .Append("\r\nServer: Kestrel\r\n\r\n").ToString();
        var response = new byte[Encoding.ASCII.GetByteCount(head) + body.Length];
        var written = Encoding.ASCII.GetBytes(head, response);
        body.CopyTo(response.AsSpan(written));

        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new RawHttpBackend(listener, response);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        try
        {
            await Task.WhenAll([_accepting, .. connections]).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            connection.NoDelay = true;
            lock (_connections)
            {
                _connections.RemoveAll(static c => c.IsCompleted);
                _connections.Add(ServeAsync(connection));
            }
        }
    }

    // One loop per connection: its state machine is the connection's, not the request's.
    private async Task ServeAsync(Socket connection)
    {
        using var _ = connection;
        var buffer = new byte[BufferSize];
        var received = 0;
        try
        {
            while (true)
            {
                int headEnd;
                while ((headEnd = buffer.AsSpan(0, received).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (received == buffer.Length)
                    {
                        return; // a head this large is not the harness's: closing unanswered fails the run (non-200)
                    }

                    var read = await connection.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, _stopping.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }

                    received += read;
                }

                if (HasBody(buffer.AsSpan(0, headEnd)))
                {
                    return; // GETs without a body only: closing unanswered fails the run (the proxy answers non-200)
                }

                await connection.SendAsync(_response.AsMemory(), SocketFlags.None, _stopping.Token).ConfigureAwait(false);
                var consumed = headEnd + 4;
                buffer.AsSpan(consumed, received - consumed).CopyTo(buffer);
                received -= consumed;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static bool HasBody(ReadOnlySpan<byte> head)
    {
        foreach (var range in head.Split("\r\n"u8))
        {
            var line = head[range];
            if ((line.Length > 15 && Ascii.EqualsIgnoreCase(line[..15], "Content-Length:"u8) && !line[15..].Trim((byte)' ').SequenceEqual("0"u8))
                || (line.Length > 18 && Ascii.EqualsIgnoreCase(line[..18], "Transfer-Encoding:"u8)))
            {
                return true;
            }
        }

        return false;
    }
}
