using System.Net.Sockets;
using System.Text;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A legacy backend that sends a length or a body with a status that has no content (204, 205), or a length that
/// describes no body on the wire (304, HEAD). The client gets the status without content, never Kestrel's 500 for a
/// length it cannot honour, and the record's <c>bytesOut</c> says how many content bytes it got: none.
/// </summary>
public sealed class BackendNoContentTests : RawBackendEdgeTests
{
    [Theory]
    [InlineData("/legacy/204-body", 204)]
    [InlineData("/legacy/205-body", 205)]
    public async Task NoContentStatusWithLengthAndBody_ClientGetsTheStatusWithoutContentAndTheRecordSaysIt(string path, int status)
    {
        var response = await RawHttp.SendAsync(Edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(status, response.Status);
        Assert.Equal("", response.Body);
        Assert.NotEqual("5", response.Header("Content-Length"));
        await AssertRecordAsync(response, status);
    }

    [Fact]
    public async Task NotModifiedWithTheRepresentationsLength_ForwardedAndRecordedWithoutContentBytes()
    {
        var response = await RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(304, response.Status);
        await AssertRecordAsync(response, 304);
    }

    [Fact]
    public async Task Head_LengthOfTheGetsBody_RecordedWithoutContentBytes()
    {
        var response = await RawHttp.SendAsync(Edge.ProxyPort, "HEAD /legacy/head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal("5", response.Header("Content-Length"));
        await AssertRecordAsync(response, 200);
    }

    private async Task AssertRecordAsync(RawResponse response, int status)
    {
        var record = await Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((status, "allow", 0L), (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString(), record.GetProperty("bytesOut").GetInt64()));
    }

    protected override async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using (client)
        {
            var stream = client.GetStream();
            var target = await ReadTargetAsync(stream, cancellationToken);
            var answer = target switch
            {
                "/legacy/204-body" => "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
                "/legacy/205-body" => "HTTP/1.1 205 Reset Content\r\nContent-Length: 5\r\n\r\nhello",
                "/legacy/304" => "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: \"v1\"\r\n\r\n",
                _ => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            };
            await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }
    }
}
