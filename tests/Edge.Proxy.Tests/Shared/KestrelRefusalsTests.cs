using System.Buffers;
using System.Text;
using Edge.Shared;

namespace Edge.Proxy.Tests.Shared;

public sealed class KestrelRefusalsTests
{
    private const string KestrelRefusal = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\nDate: Fri, 04 Dec 2026 20:09:00 GMT\r\n\r\n";

    [Theory]
    // Kestrel's messages as it words them (with and without the detail it adds at Information level).
    [InlineData(400, "Invalid request line: ''", "request_line_invalid", "request_line_invalid:syntax")]
    [InlineData(400, "Invalid request target: '/%00'", "request_line_invalid", "request_line_invalid:target")]
    [InlineData(400, "Invalid Host header: 'a b'", "host_invalid", "host_invalid:host")]
    [InlineData(400, "Request is missing Host header.", "host_invalid", "host_invalid:host")]
    [InlineData(400, "Multiple Host headers.", "host_invalid", "host_invalid:host")]
    [InlineData(400, "Invalid content length: 5, 5", "request_framing_invalid", "request_framing_invalid:content_length")]
    [InlineData(400, "Multiple Content-Length headers.", "request_framing_invalid", "request_framing_invalid:content_length")]
    [InlineData(400, "The message body length cannot be determined because the final transfer coding was set to 'xchunked' instead of 'chunked'.", "request_framing_invalid", "request_framing_invalid:transfer_coding")]
    [InlineData(400, "POST request contains no Content-Length header.", "request_framing_invalid", "request_framing_invalid:length_required")]
    [InlineData(400, "Invalid request header: ''", "header_invalid", "header_invalid:syntax")]
    [InlineData(400, "Invalid characters in header name.", "header_invalid", "header_invalid:syntax")]
    [InlineData(400, "Malformed request: invalid headers.", "header_invalid", "header_invalid:syntax")]
    [InlineData(400, "Something Kestrel adds later.", "request_invalid", "request_invalid:parser")]
    [InlineData(408, "Reading the request headers timed out.", "request_timeout", "request_timeout:headers")]
    [InlineData(414, "Request line too long.", "request_line_too_long", "request_line_too_long:limit")]
    [InlineData(431, "Request headers too long.", "headers_too_large", "headers_too_large:size")]
    [InlineData(431, "Request contains too many headers.", "headers_too_large", "headers_too_large:count")]
    [InlineData(418, "Bad request.", "request_invalid", "request_invalid:parser")]
    public void Classify_KestrelRefusal_StableCodeReasonAndTheSameStatus(int status, string message, string code, string reason)
    {
        var refusal = KestrelRefusals.Classify(status, message);

        Assert.Equal((status, code, reason), (refusal.Status, refusal.Code, refusal.Reason));
        Assert.DoesNotContain(message, refusal.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Unrecognized HTTP version: 'HTTP/1.2'")]
    [InlineData("Unrecognized HTTP version: 'HTTP/9.9'")]
    public void Classify_UnsupportedHttpVersion_AClient400WithItsOwnCode(string message)
    {
        // Kestrel's 505 is a client's protocol error (a version string no HTTP/1.x listener parses), not a server error:
        // answered and counted as a 5xx, any client raised the edge's 5xx rate at will.
        var refusal = KestrelRefusals.Classify(505, message);

        Assert.Equal((400, "http_version_unsupported", "http_version_unsupported:version"), (refusal.Status, refusal.Code, refusal.Reason));
        Assert.Equal(505, refusal.KestrelStatus);
    }

    [Fact]
    public void Rewrite_AnswerWithAnotherStatusThanKestrels_ReplacesTheStatusLine()
    {
        const string kestrel = "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        var output = new ArrayBufferWriter<byte>();

        KestrelRefusalWriter.Rewrite(Encoding.ASCII.GetBytes(kestrel), Answer("{}", isHead: false) with { Status = 400 }, output);

        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n", Encoding.ASCII.GetString(output.WrittenSpan), StringComparison.Ordinal);
    }

    [Fact]
    public void Rewrite_KestrelsEmptyRefusal_KeepsItsHeadersAndAddsTheProblemBody()
    {
        const string body = "{\"code\":\"header_invalid\"}";
        var output = new ArrayBufferWriter<byte>();

        KestrelRefusalWriter.Rewrite(Encoding.ASCII.GetBytes(KestrelRefusal), Answer(body, isHead: false), output);

        Assert.Equal(
            "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: Fri, 04 Dec 2026 20:09:00 GMT\r\n"
            + "Content-Type: application/problem+json\r\nCache-Control: no-store\r\nX-Request-Id: 0123abcd\r\n"
            + $"Content-Length: {body.Length}\r\n\r\n{body}",
            Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void Rewrite_HeadRequest_LengthOfTheBodyButNoBody()
    {
        var output = new ArrayBufferWriter<byte>();

        KestrelRefusalWriter.Rewrite(Encoding.ASCII.GetBytes(KestrelRefusal), Answer("{}", isHead: true), output);

        Assert.EndsWith("Content-Length: 2\r\n\r\n", Encoding.ASCII.GetString(output.WrittenSpan), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n")]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nabc")]
    [InlineData("")]
    public void Rewrite_NotOneCompleteHeaderBlock_PassedOnUnchanged(string written)
    {
        var output = new ArrayBufferWriter<byte>();

        KestrelRefusalWriter.Rewrite(Encoding.ASCII.GetBytes(written), Answer("{}", isHead: false), output);

        Assert.Equal(written, Encoding.ASCII.GetString(output.WrittenSpan));
    }

    private static KestrelRefusalWriter.Answer Answer(string body, bool isHead) =>
        new("X-Request-Id: 0123abcd\r\n"u8.ToArray(), Encoding.UTF8.GetBytes(body), isHead, static _ => Task.CompletedTask);
}
