using System.Net.Sockets;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A legacy backend that writes raw bytes into a response header value (a UTF-8 file name in
/// <c>Content-Disposition</c>, a Latin-1 byte, a control character), or answers with something that is not HTTP.
/// Kestrel's ASCII-only response writer turned the whole answer into <c>502 backend_unavailable</c>; the edge now passes
/// such bytes on unchanged, as nginx does, and answers what it cannot pass on with
/// <c>502 backend_response_invalid</c> (not "could not be reached"), which its record says.
/// </summary>
public sealed class BackendHeaderTests : RawBackendEdgeTests
{
    private static readonly byte[] Utf8Name = Encoding.UTF8.GetBytes("attachment; filename=\"caf\u00e9 \u2615.pdf\"");

    [Theory]
    [InlineData("/legacy/utf8")]
    [InlineData("/legacy/latin1")]
    public async Task BackendHeaderWithNonAsciiBytes_ReachesTheClientByteForByte(string path)
    {
        var response = await SendAsync(path);

        Assert.StartsWith("HTTP/1.1 200 ", Encoding.Latin1.GetString(response), StringComparison.Ordinal);
        var expected = path.EndsWith("utf8", StringComparison.Ordinal) ? Utf8Name : [(byte)'c', (byte)'a', (byte)'f', 0xE9];
        Assert.True(response.AsSpan().IndexOf([.. "\r\nX-Back: "u8, .. expected, .. "\r\n"u8]) >= 0, Encoding.Latin1.GetString(response));
    }

    [Theory]
    // A control character in a header value, which Kestrel will not write.
    [InlineData("/legacy/ctl", "backend_response_invalid")]
    // Not an HTTP response at all, a header name with a space, a head over HttpClient's 64 KiB: the backend answered.
    [InlineData("/legacy/garbage", "backend_response_invalid")]
    [InlineData("/legacy/bad-name", "backend_response_invalid")]
    [InlineData("/legacy/huge-head", "backend_response_invalid")]
    // Closed without a byte: it did not answer.
    [InlineData("/legacy/silent", "backend_unavailable")]
    public async Task BackendAnswerTheEdgeCannotPassOn_Returns502WithWhatHappenedAndTheRecordSaysIt(string path, string code)
    {
        var response = await RawHttp.SendAsync(Edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(502, response.Status);
        Assert.Equal(code, response.ProblemCode());
        var record = await Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((502, "allow", code), (record.GetProperty("status").GetInt32(),
            record.GetProperty("decision").GetString(), record.GetProperty("reason").GetString()));
    }

    private async Task<byte[]> SendAsync(string path)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", Edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), timeout.Token);
        using var all = new MemoryStream();
        await stream.CopyToAsync(all, timeout.Token);
        return all.ToArray();
    }

    protected override async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using (client)
        {
            var stream = client.GetStream();
            var target = await ReadTargetAsync(stream, cancellationToken);
            byte[] value = target switch
            {
                "/legacy/utf8" => Utf8Name,
                "/legacy/latin1" => [(byte)'c', (byte)'a', (byte)'f', 0xE9],
                _ => [(byte)'a', 0x01, (byte)'b'],
            };
            byte[] answer = target switch
            {
                "/legacy/garbage" => "NOT HTTP AT ALL\r\n\r\n"u8.ToArray(),
                "/legacy/bad-name" => "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(),
                "/legacy/huge-head" => Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Range(0, 70).Select(i => $"X-H{i}: {new string('a', 1000)}\r\n")) + "Content-Length: 2\r\n\r\nok"),
                "/legacy/silent" => [],
                _ => [.. "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-Back: "u8, .. value, .. "\r\n\r\nok"u8],
            };
            await stream.WriteAsync(answer, cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }
    }
}
