using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// HTTP/1.1 allows an empty <c>Host</c> (RFC 9112 section 3.2: a target without an authority), and Kestrel takes it.
/// YARP copied the empty field to the backend request and its host transform left it there (it replaces the client's
/// <c>Host</c> only when that one is non-empty), so HttpClient wrote the destination's <c>Host</c> line next to an empty
/// one: two <c>Host</c> fields, which a backend must refuse (Kestrel answered a bare <c>400</c> with no body, which the
/// client got and the audit recorded as an allowed request) or reads as it likes (first or last).
/// </summary>
public sealed class EmptyHostTests : RawBackendEdgeTests
{
    private readonly ConcurrentQueue<string> _heads = new();

    protected override async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using (client)
        {
            var stream = client.GetStream();
            var buffer = new byte[8192];
            var head = "";
            while (!head.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    return;
                }

                head += Encoding.Latin1.GetString(buffer, 0, read);
            }

            _heads.Enqueue(head);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray(), cancellationToken);
        }
    }

    [Theory]
    [InlineData("Host: \r\n")]
    [InlineData("Host:\r\n")]
    [InlineData("Host:    \r\n")]
    public async Task EmptyHost_ForwardedWithOneHostNamingTheDestination(string hostLine)
    {
        var response = await RawHttp.SendAsync(Edge.ProxyPort, $"GET /legacy/empty-host HTTP/1.1\r\n{hostLine}Connection: close\r\n\r\n");

        Assert.Equal((200, "ok"), (response.Status, response.Body));
        var head = Assert.Single(_heads);
        var hosts = head.Split("\r\n").Where(l => l.StartsWith("Host:", StringComparison.OrdinalIgnoreCase)).ToArray();
        Assert.StartsWith("Host: 127.0.0.1:", Assert.Single(hosts), StringComparison.Ordinal);
        var record = await Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((200, "allow"), (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString()));
    }
}
