using System.Net;
using System.Net.Sockets;
using System.Text;
using Edge.Load.Http;

namespace Edge.Load.Tests.Http;

/// <summary>Transport failures from a raw socket server: each a failure with the status that says what happened.</summary>
public sealed class HttpStepTests
{
    private static readonly HashSet<int> Ok = [200];

    [Fact]
    public async Task SendAsync_HeadersThenStalledBody_FailsAsTimeoutAfterTheClientTimeout()
    {
        // HttpClient.Timeout stops at the headers; the body never comes. Before, this waited for the server and counted as ok.
        await using var server = await RawServer.StartAsync(async (socket, ct) =>
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nxxxxxxxxxx"), ct);
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
        });
        using var client = LoadHttpClient.Create(TimeSpan.FromMilliseconds(500));

        var response = await HttpStep.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, server.Url), Ok, CancellationToken.None);

        Assert.False(response.IsOk);
        Assert.Equal("timeout", response.StatusCode);
    }

    [Fact]
    public async Task SendAsync_ConnectionResetMidBody_FailsWithATransportStatusNotException()
    {
        await using var server = await RawServer.StartAsync(async (socket, ct) =>
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nxxxxxxxxxx"), ct);
            await Task.Delay(100, ct);
            socket.LingerState = new LingerOption(true, 0);
        });
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(10));

        var response = await HttpStep.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, server.Url), Ok, CancellationToken.None);

        Assert.False(response.IsOk);
        Assert.StartsWith("http_", response.StatusCode, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_ConnectionResetBeforeTheResponse_FailsAsConnectionReset()
    {
        await using var server = await RawServer.StartAsync((socket, _) =>
        {
            socket.LingerState = new LingerOption(true, 0);
            return Task.CompletedTask;
        });
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(10));

        var response = await HttpStep.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, server.Url), Ok, CancellationToken.None);

        Assert.False(response.IsOk);
        Assert.Equal("http_connectionreset", response.StatusCode);
    }

    [Fact]
    public async Task SendAsync_TimeoutAfterPartOfTheBody_CountsTheBytesReceived()
    {
        // A failed request still moved bytes: a load tester sizing the network needs them, and the fail row's bytes read 0.
        await using var server = await RawServer.StartAsync(async (socket, ct) =>
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nxxxxxxxxxx"), ct);
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
        });
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(5)); // long enough for a cold first connection to get its headers

        var response = await HttpStep.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, server.Url), Ok, CancellationToken.None);

        Assert.Equal("timeout", response.StatusCode);
        Assert.Equal(10, response.SizeBytes);
    }

    [Fact]
    public async Task SendAsync_ConnectionResetAfterPartOfTheBody_CountsTheBytesSentAndReceived()
    {
        await using var server = await RawServer.StartAsync(async (socket, ct) =>
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nxxxxxxxxxx"), ct);
            await Task.Delay(100, ct);
            socket.LingerState = new LingerOption(true, 0);
        });
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(10));
        var request = new HttpRequestMessage(HttpMethod.Post, server.Url) { Content = new ByteArrayContent(new byte[7]) };

        var response = await HttpStep.SendAsync(client, request, Ok, CancellationToken.None);

        Assert.False(response.IsOk);
        Assert.Equal(7 + 10, response.SizeBytes);
    }

    [Fact]
    public async Task SendAsync_UnexpectedStatusWithBody_IsAFailureWithItsBytes()
    {
        await using var server = await RawServer.StartAsync(async (socket, ct) =>
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!"), ct));
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(10));

        var response = await HttpStep.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, server.Url), Ok, CancellationToken.None);

        Assert.False(response.IsOk);
        Assert.Equal("503", response.StatusCode);
        Assert.Equal(5, response.SizeBytes);
    }

    [Fact]
    public async Task SendAsync_NothingListening_CountsNoBytesForTheBodyThatWasNeverSent()
    {
        // A refused connection moved nothing; the request body's 7 bytes were counted as sent all the same, so a
        // webhook run against a dead target reported megabytes in its fail row.
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(10));
        var request = new HttpRequestMessage(HttpMethod.Post, TestBackends.DeadTarget()) { Content = new ByteArrayContent(new byte[7]) };

        var response = await HttpStep.SendAsync(client, request, Ok, CancellationToken.None);

        Assert.Equal("http_connectionerror", response.StatusCode);
        Assert.Equal(0, response.SizeBytes);
    }

    [Fact]
    public async Task SendAsync_RunStoppedMidBody_IsCancelledWithTheBytesThatMoved()
    {
        // Ctrl+C mid-body: the request is a 'cancelled' failure like the rest of the stop, with what it sent and received.
        await using var server = await RawServer.StartAsync(async (socket, ct) =>
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nxxxxxxxxxx"), ct);
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
        });
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(30));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var request = new HttpRequestMessage(HttpMethod.Post, server.Url) { Content = new ByteArrayContent(new byte[7]) };

        var response = await HttpStep.SendAsync(client, request, Ok, stop.Token);

        Assert.False(response.IsOk);
        Assert.Equal("cancelled", response.StatusCode);
        Assert.Equal(7 + 10, response.SizeBytes);
    }

    /// <summary>Accepts connections on loopback, reads the request head, runs the handler, then closes the socket.</summary>
    private sealed class RawServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        private RawServer(TcpListener listener, Func<Socket, CancellationToken, Task> handler)
        {
            _listener = listener;
            Url = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
            _loop = AcceptAsync(handler);
        }

        public Uri Url { get; }

        public static Task<RawServer> StartAsync(Func<Socket, CancellationToken, Task> handler)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return Task.FromResult(new RawServer(listener, handler));
        }

        private async Task AcceptAsync(Func<Socket, CancellationToken, Task> handler)
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    _ = ServeAsync(socket, handler);
                }
            }
            catch (OperationCanceledException)
            {
                // Disposed.
            }
        }

        private async Task ServeAsync(Socket socket, Func<Socket, CancellationToken, Task> handler)
        {
            using (socket)
            {
                try
                {
                    var buffer = new byte[4096];
                    var head = new StringBuilder();
                    while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await socket.ReceiveAsync(buffer, _stop.Token);
                        if (read == 0)
                        {
                            return;
                        }

                        head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    }

                    await handler(socket, _stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException)
                {
                    // The client went away or the server is stopping.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }
}
