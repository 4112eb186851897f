using System.Collections.Concurrent;
using System.Net.Sockets;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A raw backend for requests the edge must not see answered in time: it reads each request head, reports the request
/// id the edge gave it by path, lets the test's <c>answer</c> write what it wants for that path (nothing: a legacy
/// backend busy for minutes), then holds the connection until the edge gives up on it.
/// </summary>
public sealed class HoldingBackend : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _arrived = new();
    private readonly Func<string, NetworkStream, CancellationToken, Task> _answer;
    private readonly TcpBackend _tcp;

    /// <param name="answer">Writes the answer (or part of it) for a path; returns to hold the connection.</param>
    public HoldingBackend(Func<string, NetworkStream, CancellationToken, Task> answer)
    {
        _answer = answer;
        _tcp = TcpBackend.Start(HoldAsync);
    }

    public string Url => _tcp.Url;

    /// <summary>The request id of the request for <paramref name="path"/>, once it reached this backend (15 s at most).</summary>
    public Task<string> ArrivedAsync(string path) => Arrival(path).Task.WaitAsync(TimeSpan.FromSeconds(15));

    public ValueTask DisposeAsync() => _tcp.DisposeAsync();

    private TaskCompletionSource<string> Arrival(string path) =>
        _arrived.GetOrAdd(path, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));

    private async Task HoldAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using (client)
        {
            var stream = client.GetStream();
            try
            {
                if (await TcpBackend.ReadRequestHeadAsync(stream, cancellationToken) is not { } head)
                {
                    return;
                }

                Arrival(head.Path).TrySetResult(head.RequestId);
                await _answer(head.Path, stream, cancellationToken);

                // Drain whatever else comes until the edge gives up on this connection.
                var buffer = new byte[4096];
                while (await stream.ReadAsync(buffer, cancellationToken) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        }
    }
}
