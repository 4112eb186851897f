using System.Text;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// On a route whose body step comes after a step that decides on the headers (an API key, then a signature over the
/// body), the body is read only once the header step let the request through: a client without a credential gets its
/// 401 without the edge reading, or the client sending, the body.
/// </summary>
public sealed class BodyAfterHeaderStepsTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    private const string Json = "{\"action\":\"opened\"}";

    [Fact]
    public async Task NoCredential_Expect100Continue_401IsTheFirstAnswer()
    {
        // A client waiting for 100 Continue before it sends its body: the edge reads a body only to check it, so a refusal
        // decided on the headers comes instead of the 100.
        var path = HostileEdge.SignedKeysPath + "expect";

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: {Json.Length}\r\n\r\n");

        Assert.Equal(401, response.Status);
        Assert.Equal("authentication_required", response.ProblemCode());
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((401, "deny", "EdgeAuthenticate"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString()));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task NoCredential_UnreadBodyHoldsARequest_NextRequestParsedAfterTheBody(bool chunked, bool expectContinue)
    {
        // The 401 is decided on the headers and the body is never read by the edge: Kestrel must still skip it by its
        // framing, so a request written inside it is never parsed, and the next request on the connection is the real one.
        var smuggledPath = "/open/unread-body-" + (chunked ? "chunked" : "length");
        var smuggled = $"GET {smuggledPath} HTTP/1.1\r\nHost: x\r\n\r\n";
        var framing = chunked
            ? $"Transfer-Encoding: chunked\r\n\r\n{smuggled.Length:X}\r\n{smuggled}\r\n0\r\n\r\n"
            : $"Content-Length: {smuggled.Length}\r\n\r\n{smuggled}";

        var responses = await RawHttp.SendPipelinedAsync(fixture.Edge.ProxyPort,
            $"POST {HostileEdge.SignedKeysPath}unread HTTP/1.1\r\nHost: x\r\n{(expectContinue ? "Expect: 100-continue\r\n" : "")}Content-Type: application/json\r\n{framing}"
            + "GET /tenant/after-unread-body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal([(401, "authentication_required"), (400, "tenant_missing")], responses.Select(r => (r.Status, r.ProblemCode())));
        Assert.Equal(0, fixture.BackendCalls(smuggledPath));
    }

    [Fact]
    public async Task NoCredential_DeclaredBodyOverTheCap_401NotTheBodyRefusal()
    {
        var path = HostileEdge.SignedKeysPath + "large-anonymous";

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");

        Assert.Equal(401, response.Status);
        Assert.Equal("authentication_required", response.ProblemCode());
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task ValidKey_DeclaredBodyOverTheCap_413ForTheWebhookStep()
    {
        var path = HostileEdge.SignedKeysPath + "large";

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {HostileEdge.ViewerKey}\r\nContent-Type: application/json\r\n"
            + $"X-Hub-Signature-256: sha256:{new string('0', 64)}\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n");

        Assert.Equal(413, response.Status);
        Assert.Equal("body_too_large", response.ProblemCode());
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((413, "deny", "EdgeWebhook"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString()));
    }

    [Fact]
    public async Task NoSignature_Expect100Continue_401SignatureMissingIsTheFirstAnswer()
    {
        // A delivery without its signature header cannot verify whatever its body: the webhook step refuses it on the
        // headers, so the sender gets no 100 Continue and the edge reads nothing of the body.
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            $"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
            + $"X-GitHub-Event: push\r\nX-GitHub-Delivery: {Guid.NewGuid()}\r\nContent-Length: {Json.Length}\r\n\r\n");

        Assert.Equal(401, response.Status);
        Assert.Equal("signature_missing", response.ProblemCode());
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((401, "deny", "EdgeWebhook", "signature_missing:header_absent"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
        Assert.Equal("signature_missing:header_absent", audit.GetProperty("signature").GetProperty("result").GetString());
    }

    [Theory]
    [InlineData(true, 200, null)]
    [InlineData(false, 401, "signature_invalid")]
    public async Task ValidKeyWithSignature_Expect100Continue_100ThenTheBodyIsReadAndJudged(bool validSignature, int status, string? code)
    {
        // The client sends its body only after the 100: the edge must ask for it once the header steps passed, then judge it.
        var path = HostileEdge.SignedKeysPath + "continue-" + Guid.NewGuid().ToString("N");
        var next = "/open/after-continue-" + Guid.NewGuid().ToString("N");
        // A body of its own: GitHub signs no timestamp, so the same signed body twice is a replay (409).
        var body = Encoding.UTF8.GetBytes($"{{\"action\":\"opened\",\"id\":\"{Guid.NewGuid():N}\"}}");
        var signature = validSignature ? HostileEdge.GitHubSignature(body) : "sha256=" + new string('0', 64);
        using var client = new System.Net.Sockets.TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", fixture.Edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {HostileEdge.ViewerKey}\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
            + $"X-GitHub-Event: push\r\nX-GitHub-Delivery: {Guid.NewGuid()}\r\nX-Hub-Signature-256: {signature}\r\nContent-Length: {body.Length}\r\n\r\n"), timeout.Token);
        var interim = new byte[25];
        await stream.ReadExactlyAsync(interim, timeout.Token);
        await stream.WriteAsync(body, timeout.Token);
        using var rest = new MemoryStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {next} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), timeout.Token);
        await stream.CopyToAsync(rest, timeout.Token);
        var answers = Encoding.ASCII.GetString(rest.ToArray());

        Assert.Equal("HTTP/1.1 100 Continue\r\n\r\n", Encoding.ASCII.GetString(interim));
        Assert.StartsWith($"HTTP/1.1 {status} ", answers, StringComparison.Ordinal);
        Assert.Equal(code is null ? 1 : 0, fixture.BackendCalls(path));
        if (code is not null)
        {
            Assert.Contains($"\"code\":\"{code}\"", answers, StringComparison.Ordinal);
        }

        // The connection stayed in step: the request after the body got its own answer.
        Assert.Equal(2, answers.Split("HTTP/1.1 ").Length - 1);
        Assert.Contains("HTTP/1.1 200 ", answers[answers.LastIndexOf("HTTP/1.1 ", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Equal(1, fixture.BackendCalls(next));
    }

    [Fact]
    public async Task ValidKeyNoSignature_DeclaredBodyOverTheCap_401NotTheBodyRefusal()
    {
        // After the API key passed, the webhook step still decides on the headers first: no signature is a 401, not a
        // 413 for a body the edge never needed to read.
        var path = HostileEdge.SignedKeysPath + "large-unsigned";

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {HostileEdge.ViewerKey}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");

        Assert.Equal(401, response.Status);
        Assert.Equal("signature_missing", response.ProblemCode());
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task ValidKey_ChunkedSignedBody_ForwardedWithTheBufferedLength()
    {
        var path = HostileEdge.SignedKeysPath + "chunked";
        var body = Encoding.UTF8.GetBytes(Json);
        var chunked = $"5\r\n{Json[..5]}\r\n{body.Length - 5:X}\r\n{Json[5..]}\r\n0\r\n\r\n";

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {HostileEdge.ViewerKey}\r\nContent-Type: application/json\r\n"
            + $"X-GitHub-Event: push\r\nX-GitHub-Delivery: {Guid.NewGuid()}\r\nX-Hub-Signature-256: {HostileEdge.GitHubSignature(body)}\r\n"
            + $"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunked}");

        Assert.Equal(200, response.Status);
        var received = Assert.Single(fixture.Backend.Received, e => e.RequestMessage?.Path == path).RequestMessage!;
        Assert.Equal(Json, received.Body);
        Assert.Equal(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(received.Headers!["Content-Length"]));
        Assert.False(received.Headers.ContainsKey("Transfer-Encoding"));
    }
}
