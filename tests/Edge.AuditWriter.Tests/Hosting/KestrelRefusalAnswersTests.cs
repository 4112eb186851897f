using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Edge.AuditWriter.Tests.Hosting;

/// <summary>What Kestrel's parser refuses before the writer's endpoints run gets the writer's problem+json, not an empty 4xx.</summary>
public sealed class KestrelRefusalAnswersTests
{
    [Theory]
    [InlineData("GET /audit/records HTTP/1.1\r\nHost: x\r\nX-Api-Key: a\0b\r\n\r\n", 400, "header_invalid", "/audit/records")]
    [InlineData("GET /audit/%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request_line_invalid", null)]
    [InlineData("POST /audit/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, "request_framing_invalid", "/audit/ingest")]
    [InlineData("GET /audit/records HTTP/1.1\r\n\r\n", 400, "host_invalid", "/audit/records")]
    [InlineData("POST /audit/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 000000000000000000000005\r\n\r\nhello", 400, "request_framing_invalid", "/audit/ingest")]
    [InlineData("POST /audit/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400, "request_framing_invalid", "/audit/ingest")]
    // A bare LF ending a header line or the request line: the edge refuses it (Kestrel's strict line ends); the writer
    // read "Host: x<LF>X-A: 1" as two headers and served the request, where a proxy in front may have seen one.
    [InlineData("GET /audit/checkpoint HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 400, "header_invalid", "/audit/checkpoint")]
    [InlineData("GET /audit/checkpoint HTTP/1.1\nHost: x\r\n\r\n", 400, "request_line_invalid", null)]
    // An unknown version is the client's protocol error: Kestrel's 505 status line is rewritten to the problem's 400.
    [InlineData("GET /audit/checkpoint HTTP/1.2\r\nHost: x\r\n\r\n", 400, "http_version_unsupported", null)]
    public async Task AnyPath_RequestKestrelRefuses_ProblemJsonWithCodeAndRequestId(string request, int status, string code, string? instance)
    {
        await using var writer = await WriterFixture.StartAsync();

        var (head, body) = await SendAsync(writer.BaseAddress.Port, request);

        Assert.StartsWith($"HTTP/1.1 {status} ", head, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/problem+json\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close", head, StringComparison.Ordinal);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(code, problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("requestId").GetString()));
        Assert.Equal(instance, problem.RootElement.TryGetProperty("instance", out var path) ? path.GetString() : null);
    }

    private static async Task<(string Head, string Body)> SendAsync(int port, string request)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request), timeout.Token);
        using var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        var text = Encoding.ASCII.GetString(received.ToArray());
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end > 0, $"no header block in: {text}");
        return (text[..end], text[(end + 4)..]);
    }
}
