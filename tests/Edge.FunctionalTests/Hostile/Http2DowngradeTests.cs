using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// HTTP/2 requests (h2c with prior knowledge) that the edge forwards to an HTTP/1.1 backend, which records the exact bytes
/// it receives on each connection. HPACK carries any byte in a name or value, so an h2 request could hold what would be a
/// line break, a second request or a connection-level header once written as HTTP/1.1; none of it may reach the backend,
/// and the pooled backend connection must carry exactly one request per request.
/// </summary>
public sealed class Http2DowngradeTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<(int Connection, string Bytes)> _received = new();
    private TcpBackend _backend = null!;
    private EdgeHost _edge = null!;
    private int _connections;

    public async Task InitializeAsync()
    {
        _backend = TcpBackend.Start(AnswerAsync);
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") }),
            new Dictionary<string, string?> { ["Kestrel:EndpointDefaults:Protocols"] = "Http2" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Theory]
    [InlineData(":path", "/open/crlf\r\nX-Injected: 1")]
    [InlineData(":path", "/open/nul?x=a\0b")]
    [InlineData(":path", "/open/crlf-query?x=a\r\nX-Injected: 1")]
    [InlineData(":path", "open/no-leading-slash")]
    [InlineData(":path", "http://other.example/open/absolute")]
    [InlineData(":method", "GET /open/smuggled HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET")]
    [InlineData("x-note", "a\r\nX-Injected: 1")]
    [InlineData("x-note", "a\nb")]
    [InlineData("x-note", "a\0b")]
    [InlineData("connection", "keep-alive")]
    [InlineData("te", "gzip")]
    public async Task Http2_FieldThatWouldBreakTheHttp11Request_RefusedAndNothingForwarded(string name, string value)
    {
        // Kestrel refuses these itself (RST_STREAM or GOAWAY PROTOCOL_ERROR, RFC 9113 §8.2.1, §8.2.2, §8.3.1).
        var outcome = await RawHttp2.ExchangeAsync(_edge.ProxyPort, Request(name, value), null);
        var after = await RawHttp2.ExchangeAsync(_edge.ProxyPort, Request(":path", "/open/after"), null);

        Assert.Equal(0, outcome.Status);
        Assert.Equal(RawHttp2.ProtocolError, outcome.Reset ?? outcome.GoAway);
        Assert.Equal(200, after.Status);
        Assert.Equal("GET /open/after HTTP/1.1", Assert.Single(_received).Bytes.Split("\r\n")[0]);
    }

    [Theory]
    [InlineData("x-a\r\nx-injected")]
    [InlineData("x-a b")]
    [InlineData("x-a:b")]
    [InlineData("keep-alive")]
    [InlineData("proxy-connection")]
    [InlineData("upgrade")]
    public async Task Http2_HeaderNameHttp11CannotCarryOrConnectionLevel_DroppedFromTheForwardedRequest(string name)
    {
        var outcome = await RawHttp2.ExchangeAsync(_edge.ProxyPort, [.. Request(":path", "/open/dropped"), (name, "1")], null);

        Assert.Equal(200, outcome.Status);
        var forwarded = Assert.Single(_received).Bytes;
        Assert.StartsWith("GET /open/dropped HTTP/1.1\r\n", forwarded, StringComparison.Ordinal);
        Assert.DoesNotContain("injected", forwarded, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\r\n" + name.Split(['\r', ' ', ':'])[0] + ":", forwarded, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("\r\n\r\n", forwarded, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http2_TrailersAfterABodyWithoutLength_NotForwardedAndThePooledConnectionCarriesOnlyTheNextRequest()
    {
        // Trailers that would be a length, an identity header or a second request if written into the HTTP/1.1 request.
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using var stream = await RawHttp2.ConnectAsync(client, _edge.ProxyPort, false, timeout.Token);
        var request = RawHttp2.PrefaceAndHeaders([(":method", "POST"), (":scheme", "http"), (":path", "/open/trailers"), (":authority", "edge.example")], endStream: false);
        request.AddRange(RawHttp2.Frame(RawHttp2.Data, 0, 1, "hello"u8.ToArray()));
        request.AddRange(RawHttp2.Frame(0x1, 0x4 | RawHttp2.EndStream, 1,
            RawHttp2.HeaderBlock([("x-edge-tenant", "evil"), ("content-length", "100"), ("x-t", "0\r\n\r\nGET /open/smuggled HTTP/1.1")])));
        await stream.WriteAsync(request.ToArray(), timeout.Token);
        var outcome = await RawHttp2.ReadOutcomeAsync(stream, timeout.Token);
        var after = await RawHttp2.ExchangeAsync(_edge.ProxyPort, Request(":path", "/open/after"), null);

        Assert.Equal((200, 200), (outcome.Status, after.Status));
        var connection = _received.First().Connection;
        var bytes = string.Concat(_received.Where(r => r.Connection == connection).Select(r => r.Bytes));
        Assert.Equal(2, bytes.Split(" HTTP/1.1\r\n").Length - 1);
        Assert.Contains("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /open/after HTTP/1.1\r\n", bytes, StringComparison.Ordinal);
        Assert.DoesNotContain("evil", bytes, StringComparison.Ordinal);
        Assert.DoesNotContain("smuggled", bytes, StringComparison.Ordinal);
    }

    private static List<(string Name, string Value)> Request(string name, string value)
    {
        List<(string Name, string Value)> headers = [(":method", "GET"), (":scheme", "http"), (":path", "/open/h2"), (":authority", "edge.example")];
        var pseudo = headers.FindIndex(h => h.Name == name);
        if (pseudo >= 0)
        {
            headers[pseudo] = (name, value);
        }
        else
        {
            headers.Add((name, value));
        }

        return headers;
    }

    private async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        var connection = Interlocked.Increment(ref _connections);
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[65536];
                var pending = "";
                while (true)
                {
                    var read = await stream.ReadAsync(buffer, cancellationToken);
                    if (read == 0)
                    {
                        return;
                    }

                    var bytes = Encoding.Latin1.GetString(buffer, 0, read);
                    _received.Enqueue((connection, bytes));
                    // Answer once a request is complete: a head without a body, or a chunked body's last chunk.
                    pending += bytes;
                    if (pending.EndsWith("\r\n\r\n", StringComparison.Ordinal)
                        && (!pending.Contains("Transfer-Encoding: chunked", StringComparison.Ordinal) || pending.EndsWith("0\r\n\r\n", StringComparison.Ordinal)))
                    {
                        pending = "";
                        await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), cancellationToken);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
            {
                // The edge closed the connection.
            }
        }
    }
}
