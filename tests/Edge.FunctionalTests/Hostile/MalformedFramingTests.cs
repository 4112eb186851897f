using System.Net.Sockets;
using System.Text;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Broken HTTP/1.1 body framing on a body-buffering (webhook) route: the client gets 400 <c>body_invalid</c>, nothing is
/// forwarded, and the audit record shows the same status. Only a client that really went away gets no answer.
/// </summary>
public sealed class MalformedFramingTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    public static TheoryData<string, string> MalformedBodies() => new()
    {
        { "overflowing chunk size", "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nxx\r\n0\r\n\r\n" },
        { "non-hex chunk size", "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" },
        { "chunk data longer than its size", "Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n" },
        { "chunk extension with a bare CR", "Transfer-Encoding: chunked\r\n\r\n5;ext\rgarbage\r\nhello\r\n0\r\n\r\n" },
        { "negative chunk size", "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task WebhookRoute_MalformedChunkedBody_Returns400BodyInvalidAndAuditsIt(string name, string framing)
    {
        var path = HostileEdge.WebhookPath;
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\n{HostileEdge.UnverifiedSignatureHeader}{framing}");

        Assert.True(response.Status == 400, $"{name}: got {response.Status}");
        Assert.Equal("body_invalid", response.ProblemCode());
        Assert.Equal(calls, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(400, audit.GetProperty("status").GetInt32());
        Assert.Equal("deny", audit.GetProperty("decision").GetString());
        Assert.Equal("body_invalid:malformed_framing", audit.GetProperty("reason").GetString());
    }

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task StreamingRoute_MalformedChunkedBody_Returns400BodyInvalidAndAuditsTheSame(string name, string framing)
    {
        // Read by the forwarder, not the edge: Kestrel reports some of these as a plain IOException, which must still get
        // an answer on the live connection, not a 499 or a 502 backend_unavailable.
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"POST /open/malformed-chunks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{framing}");

        Assert.True((response.Status, response.ProblemCode()) == (400, "body_invalid"), $"{name}: got {response.Status} {response.ProblemCode()}");
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((400, "body_invalid"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task WebhookRoute_BodyTrickledBelowKestrelsMinimumRate_Returns408BodyTimeoutAndAuditsIt()
    {
        // 20 bytes a second, under Kestrel's MinRequestBodyDataRate (240 bytes/s after a 5 s grace). Answered 400
        // body_invalid "malformed" before, audited as body_invalid:malformed_framing and counted as a validation failure.
        var calls = fixture.BackendCalls(HostileEdge.WebhookPath);

        var response = await RawHttp.TrickleAsync(
            fixture.Edge.ProxyPort,
            $"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\n{HostileEdge.UnverifiedSignatureHeader}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
            "          "u8.ToArray(),
            TimeSpan.FromMilliseconds(500));

        Assert.Equal(408, response.Status);
        Assert.Equal("body_timeout", response.ProblemCode());
        Assert.Equal(calls, fixture.BackendCalls(HostileEdge.WebhookPath));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(408, audit.GetProperty("status").GetInt32());
        Assert.Equal("deny", audit.GetProperty("decision").GetString());
        Assert.Equal("body_timeout", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task WebhookRoute_ClientStopsSendingBeforeContentLength_NoAnswerAndAuditedAs499()
    {
        var calls = fixture.BackendCalls(HostileEdge.WebhookPath);
        var request = Encoding.ASCII.GetBytes($"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\n{HostileEdge.UnverifiedSignatureHeader}Content-Length: 101\r\n\r\n{{\"short\":1}}");

        // The client half-closes with the body incomplete: Kestrel ends the connection, so no answer can be sent, and
        // the audit must not claim one.
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, request, shutdownSend: true);

        Assert.Equal(0, response.Status);
        var audit = await fixture.AuditDataWhereAsync(d => d.TryGetProperty("bytesIn", out var b) && b.GetInt64() == 101, "half-closed record");
        Assert.Equal(calls, fixture.BackendCalls(HostileEdge.WebhookPath));
        Assert.Equal(499, audit.GetProperty("status").GetInt32());
        Assert.Equal("body_invalid:client_aborted", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task WebhookRoute_ContentLengthAndChunkedWithAValidSignature_Returns400RequestFramingInvalid()
    {
        // Verified over the de-chunked bytes and forwarded before; a front proxy reading the Content-Length would have seen
        // another request boundary. A correct signature does not make the framing unambiguous.
        var body = "{\"a\":1}";
        var signature = HostileEdge.GitHubSignature(Encoding.UTF8.GetBytes(body));
        var calls = fixture.BackendCalls(HostileEdge.WebhookPath);

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\n{HostileEdge.UnverifiedSignatureHeader}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"
            + $"X-GitHub-Event: push\r\nX-GitHub-Delivery: {Guid.NewGuid():N}\r\nX-Hub-Signature-256: {signature}\r\n\r\n"
            + $"{body.Length:x}\r\n{body}\r\n0\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal("request_framing_invalid", response.ProblemCode());
        Assert.Equal(calls, fixture.BackendCalls(HostileEdge.WebhookPath));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(400, audit.GetProperty("status").GetInt32());
        Assert.Equal("request_framing_invalid:length_and_chunked", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task WebhookRoute_ClientResetsMidBody_NothingForwardedAndAuditedAs499()
    {
        var calls = fixture.BackendCalls(HostileEdge.WebhookPath);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", fixture.Edge.ProxyPort);
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\n{HostileEdge.UnverifiedSignatureHeader}Content-Length: 500\r\n\r\n{{\"partial\":"));
            await Task.Delay(300);
            // Linger 0: close with RST, the way a client that crashed or gave up disappears.
            client.Client.LingerState = new LingerOption(true, 0);
        }

        var audit = await fixture.AuditDataWhereAsync(d => d.TryGetProperty("bytesIn", out var b) && b.GetInt64() == 500, "reset record");
        Assert.Equal(calls, fixture.BackendCalls(HostileEdge.WebhookPath));
        Assert.Equal(499, audit.GetProperty("status").GetInt32());
        Assert.Equal("deny", audit.GetProperty("decision").GetString());
        Assert.Equal("body_invalid:client_aborted", audit.GetProperty("reason").GetString());
    }
}
