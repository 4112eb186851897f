using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Edge.Testing;

/// <summary>
/// A loopback TCP relay in front of a real server that delays every byte the server sends by a fixed time but keeps
/// them flowing in order (requests pass at once): a server that answers everything, each answer late, like a
/// redis-server starved of CPU or a slow link. A network condition, not a fake server.
/// </summary>
public sealed class SlowReplyRelay : IAsyncDisposable
{
    private readonly TcpBackend _listener;

    private SlowReplyRelay(int serverPort, TimeSpan replyDelay) =>
        _listener = TcpBackend.Start((client, cancellationToken) => RelayAsync(client, serverPort, replyDelay, cancellationToken));

    public int Port => _listener.Port;

    public static SlowReplyRelay Start(int serverPort, TimeSpan replyDelay) => new(serverPort, replyDelay);

    private static async Task RelayAsync(TcpClient client, int serverPort, TimeSpan replyDelay, CancellationToken cancellationToken)
    {
        using (client)
        using (var server = new TcpClient { NoDelay = true })
        {
            client.NoDelay = true;
            try
            {
                await server.ConnectAsync("127.0.0.1", serverPort, cancellationToken);
                var replies = Channel.CreateUnbounded<(byte[] Bytes, long ReadAt)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
                await Task.WhenAny(
                    client.GetStream().CopyToAsync(server.GetStream(), cancellationToken),
                    ReadRepliesAsync(server.GetStream(), replies.Writer, cancellationToken),
                    WriteRepliesAsync(client.GetStream(), replies.Reader, replyDelay, cancellationToken));
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private static async Task ReadRepliesAsync(NetworkStream server, ChannelWriter<(byte[] Bytes, long ReadAt)> replies, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await server.ReadAsync(buffer, cancellationToken)) > 0)
        {
            replies.TryWrite((buffer[..read], Stopwatch.GetTimestamp()));
        }

        replies.TryComplete();
    }

    private static async Task WriteRepliesAsync(NetworkStream client, ChannelReader<(byte[] Bytes, long ReadAt)> replies, TimeSpan replyDelay, CancellationToken cancellationToken)
    {
        await foreach (var (bytes, readAt) in replies.ReadAllAsync(cancellationToken))
        {
            var wait = replyDelay - Stopwatch.GetElapsedTime(readAt);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            await client.WriteAsync(bytes, cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => _listener.DisposeAsync();
}
