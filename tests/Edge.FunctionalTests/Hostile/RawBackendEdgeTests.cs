using System.Net.Sockets;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// An edge with one route, <c>/legacy/{**rest}</c>, in front of a raw TCP backend whose answers the test class writes
/// (<see cref="AnswerAsync"/>): a legacy backend that breaks HTTP in a way no test server would.
/// </summary>
public abstract class RawBackendEdgeTests : IAsyncLifetime
{
    private TcpBackend _backend = null!;

    protected EdgeHost Edge { get; private set; } = null!;

    /// <summary>Answers one backend connection (and disposes it).</summary>
    protected abstract Task AnswerAsync(TcpClient client, CancellationToken cancellationToken);

    /// <summary>Reads the forwarded request's head (one read: the edge sends it in one piece) and returns its target.</summary>
    protected static async Task<string> ReadTargetAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var read = await stream.ReadAsync(buffer, cancellationToken);
        return Encoding.ASCII.GetString(buffer, 0, read).Split(' ')[1];
    }

    public async Task InitializeAsync()
    {
        _backend = TcpBackend.Start(AnswerAsync);
        Edge = await EdgeHost.StartAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["legacy"] = ProxyJson.Route("/legacy/{**rest}") }));
    }

    public async Task DisposeAsync()
    {
        await Edge.DisposeAsync();
        await _backend.DisposeAsync();
    }
}
