using System.Net;
using System.Net.Sockets;

namespace Edge.Testing;

/// <summary>
/// A loopback TCP listener that hands every accepted connection to the test's own answer, for backends no HTTP server
/// would play: raw header bytes, a body cut short, a reset, a request that is never answered.
/// </summary>
public sealed class TcpBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<TcpClient, CancellationToken, Task> _answer;

    private TcpBackend(Func<TcpClient, CancellationToken, Task> answer) => _answer = answer;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>Listens on a free loopback port; <paramref name="answer"/> owns each connection (and disposes it).</summary>
    public static TcpBackend Start(Func<TcpClient, CancellationToken, Task> answer)
    {
        var backend = new TcpBackend(answer);
        backend._listener.Start();
        _ = backend.AcceptAsync(backend._stop.Token);
        return backend;
    }

    /// <summary>
    /// Reads a request head the edge forwarded, returning its path and the <c>X-Request-Id</c> the edge gave it; null
    /// when the edge closed the connection first.
    /// </summary>
    public static async Task<(string Path, string RequestId)?> ReadRequestHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var head = "";
        while (!head.Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return null;
            }

            head += System.Text.Encoding.Latin1.GetString(buffer, 0, read);
        }

        var path = head[(head.IndexOf(' ', StringComparison.Ordinal) + 1)..head.IndexOf(" HTTP/", StringComparison.Ordinal)];
        var requestId = head.Split("\r\n").Single(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase))["X-Request-Id:".Length..].Trim();
        return (path, requestId);
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = _answer(client, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _stop.Dispose();
    }
}
