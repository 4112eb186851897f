using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A legacy backend whose response framing is ambiguous or does not belong to the request: a <c>101</c> to a request that
/// asked for no upgrade, <c>Content-Length</c> beside <c>Transfer-Encoding</c>, bytes after its body. The backend keeps
/// its connections open, so the edge's pool may reuse one for the next client: what a client gets must be its own
/// answer, and what the edge could not vouch for is a <c>502 backend_response_invalid</c> whose record says so.
/// </summary>
public sealed class BackendFramingTests : RawBackendEdgeTests
{
    private const string Smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!";

    private readonly ConcurrentQueue<(int Connection, string Target)> _received = new();
    private readonly ConcurrentBag<string> _extraSent = [];
    private readonly TaskCompletionSource _heldArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _releaseHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _connections;

    [Theory]
    // Kestrel sent the 101 on (it cannot switch a request that asked for no upgrade), and the client's connection then
    // answered nothing more; the record said 101 allowed.
    [InlineData("/legacy/unasked-101")]
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, and a backend that sent both may have framed its body by
    // either; nginx answers such a response with 502.
    [InlineData("/legacy/length-and-chunked")]
    [InlineData("/legacy/length-and-unknown-coding")]
    // A header Kestrel will not write beside the ambiguous framing: the header copy would fail too, but the framing is
    // checked first, so the connection is still closed rather than drained back into the pool.
    [InlineData("/legacy/length-and-chunked-ctl")]
    // Two lengths that disagree: HttpClient refuses the head itself.
    [InlineData("/legacy/two-lengths")]
    public async Task BackendFramingTheEdgeCannotVouchFor_Returns502AndTheConnectionServesTheNextRequest(string path)
    {
        var responses = await RawHttp.SendPipelinedAsync(Edge.ProxyPort,
            $"GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /legacy/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        var record = await AssertRefusedAndNextServedOnAnotherConnectionAsync(responses, path);
        Assert.Equal(responses[0].Body.Length, record.GetProperty("bytesOut").GetInt32());
    }

    [Theory]
    // A backend that is no WebSocket server (a status taken from a parameter, a broken handler) answered the upgrade
    // with a 101 but not the handshake's Sec-WebSocket-Accept: the edge relayed every later byte to it unread, so the
    // client sent raw requests for any path of that backend past the edge's steps, identity headers and audit.
    [InlineData("/legacy/ws-101-no-accept")]
    [InlineData("/legacy/ws-101-wrong-accept")]
    [InlineData("/legacy/ws-101-two-accepts")]
    public async Task WebSocketUpgradeAnsweredWith101WithoutItsAccept_Returns502AndNothingIsTunnelled(string path)
    {
        var responses = await RawHttp.SendPipelinedAsync(Edge.ProxyPort,
            $"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nGET /legacy/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        await AssertRefusedAndNextServedOnAnotherConnectionAsync(responses, path);
    }

    [Fact]
    public async Task WebSocketUpgradeAnsweredWithItsAccept_Switched()
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", Edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /legacy/ws-101-good HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), timeout.Token);
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(one, timeout.Token) == 1)
        {
            head.Append((char)one[0]);
        }

        Assert.StartsWith("HTTP/1.1 101 ", head.ToString(), StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BackendFramingRefusedOnAKeepAliveClientsLaterRequest_TheConnectionItCameOnIsClosed()
    {
        // The refused request is the client's second, on the backend connection its first request used and returned to
        // the pool: the connection must be noted on the request sending on it now, not on the one that used it before.
        var responses = await RawHttp.SendPipelinedAsync(Edge.ProxyPort,
            "GET /legacy/next HTTP/1.1\r\nHost: x\r\n\r\nGET /legacy/length-and-chunked HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /legacy/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal([(200, "fine"), (502, ""), (200, "fine")], responses.Select(r => (r.Status, r.Status == 502 ? "" : r.Body)));
        Assert.Equal("backend_response_invalid", responses[1].ProblemCode());
        var refused = _received.Single(r => r.Target == "/legacy/length-and-chunked").Connection;
        var next = _received.Where(r => r.Target == "/legacy/next").Select(r => r.Connection).ToList();
        // The first request's connection carried the refused one, and did not carry the third.
        Assert.Equal(2, next.Count);
        Assert.Equal(refused, next[0]);
        Assert.NotEqual(refused, next[1]);
    }

    [Fact]
    public async Task RefusedFramingWhileAnotherRequestWritesToItsOwnConnection_OnlyTheRefusedConnectionIsClosed()
    {
        // The refused request writes first; the held one writes to a second connection after it, before the refused
        // answer arrives. The connection to close is the one the refused answer came on, not the one written last.
        var refused = RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/length-and-chunked-after-held HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        await WaitUntilReceivedAsync("/legacy/length-and-chunked-after-held");
        var held = RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/held HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var refusedResponse = await refused;
        _releaseHeld.SetResult();
        var heldResponse = await held;
        var next = await RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal((502, "backend_response_invalid"), (refusedResponse.Status, refusedResponse.ProblemCode()));
        Assert.Equal((200, "ok"), (heldResponse.Status, heldResponse.Body));
        Assert.Equal((200, "fine"), (next.Status, next.Body));
        // The held request's connection went back to the pool and carried the next request; the refused one did not.
        var heldConnection = _received.Single(r => r.Target == "/legacy/held").Connection;
        Assert.Equal(heldConnection, _received.Single(r => r.Target == "/legacy/next").Connection);
    }

    private async Task WaitUntilReceivedAsync(string target)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!_received.Any(r => r.Target == target))
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    [Fact]
    public async Task BackendSendsAStormOfInterimResponses_ClientGetsOnlyTheFinalAnswer()
    {
        var response = await RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/interim-storm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal((200, "ok"), (response.Status, response.Body));
        var record = await Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((200, 2), (record.GetProperty("status").GetInt32(), record.GetProperty("bytesOut").GetInt32()));
    }

    [Theory]
    [InlineData("/legacy/extra-at-once")]
    [InlineData("/legacy/extra-later")]
    public async Task BackendSendsBytesAfterItsBody_NextClientOnThePooledConnectionGetsItsOwnAnswer(string path)
    {
        var first = await RawHttp.SendAsync(Edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        // The late bytes arrive while the connection waits in the pool.
        await WaitUntilAsync(() => _extraSent.Contains(path));
        var second = await RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal((200, "ok"), (first.Status, first.Body));
        Assert.Equal((200, "fine"), (second.Status, second.Body));
        var firstConnection = _received.Single(r => r.Target == path).Connection;
        Assert.DoesNotContain(_received, r => r.Connection == firstConnection && r.Target == "/legacy/next");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }

        // Give the edge's idle connection the chance to see the bytes (the assertion holds either way: it must never serve them).
        await Task.Delay(100, timeout.Token);
    }

    protected override async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        var connection = Interlocked.Increment(ref _connections);
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[16384];
                while (true)
                {
                    var read = await stream.ReadAsync(buffer, cancellationToken);
                    if (read == 0)
                    {
                        return;
                    }

                    var target = Encoding.Latin1.GetString(buffer, 0, read).Split(' ')[1];
                    _received.Enqueue((connection, target));
                    if (target == "/legacy/length-and-chunked-after-held")
                    {
                        await _heldArrived.Task.WaitAsync(cancellationToken);
                    }
                    else if (target == "/legacy/held")
                    {
                        _heldArrived.TrySetResult();
                        await _releaseHeld.Task.WaitAsync(cancellationToken);
                    }

                    var answer = target switch
                    {
                        "/legacy/unasked-101" => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nTUNNEL",
                        "/legacy/ws-101-no-accept" => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                        "/legacy/ws-101-wrong-accept" => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
                        "/legacy/ws-101-two-accepts" => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
                        "/legacy/ws-101-good" => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                        "/legacy/length-and-chunked" => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                        "/legacy/length-and-chunked-ctl" => "HTTP/1.1 200 OK\r\nX-Back: a\u0001b\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                        "/legacy/length-and-chunked-after-held" => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                        "/legacy/held" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                        "/legacy/length-and-unknown-coding" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\nContent-Length: 2\r\n\r\nok",
                        "/legacy/two-lengths" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nokxyz",
                        "/legacy/interim-storm" => string.Concat(Enumerable.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 2000)) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                        "/legacy/extra-at-once" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + Smuggled,
                        "/legacy/extra-later" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                        _ => "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine",
                    };
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), cancellationToken);
                    await stream.FlushAsync(cancellationToken);
                    if (target == "/legacy/extra-later")
                    {
                        await Task.Delay(50, cancellationToken);
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(Smuggled), cancellationToken);
                    }

                    if (target.StartsWith("/legacy/extra-", StringComparison.Ordinal))
                    {
                        _extraSent.Add(target);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
            {
                // The edge closed the connection.
            }
        }
    }

    /// <summary>
    /// The first answer is 502 <c>backend_response_invalid</c>, audited as sent; the pipelined <c>/legacy/next</c> after it
    /// is served, never on the refused backend connection: whatever else that connection held (or a tunnel) never becomes
    /// another answer. Returns the first answer's audit record.
    /// </summary>
    private async Task<System.Text.Json.JsonElement> AssertRefusedAndNextServedOnAnotherConnectionAsync(IReadOnlyList<RawResponse> responses, string path)
    {
        Assert.Equal(2, responses.Count);
        Assert.Equal((502, "backend_response_invalid"), (responses[0].Status, responses[0].ProblemCode()));
        Assert.Equal((200, "fine"), (responses[1].Status, responses[1].Body));
        var record = await Edge.LocalAuditDataAsync(responses[0].Header("X-Request-Id")!);
        Assert.Equal((502, "allow", "backend_response_invalid"), (record.GetProperty("status").GetInt32(),
            record.GetProperty("decision").GetString(), record.GetProperty("reason").GetString()));
        var refused = _received.Single(r => r.Target == path).Connection;
        Assert.DoesNotContain(_received, r => r.Connection == refused && r.Target == "/legacy/next");
        return record;
    }
}
