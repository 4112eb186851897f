using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class RequestFramingTests
{
    [Theory]
    [InlineData("HTTP/1.1", null, null)]
    [InlineData("HTTP/1.1", "chunked", null)]
    [InlineData("HTTP/1.1", "Chunked", null)]
    [InlineData("HTTP/2", null, null)]
    [InlineData("HTTP/1.0", null, null)]
    public void Check_UnambiguousFraming_Null(string protocol, string? transferEncoding, long? contentLength)
    {
        Assert.Null(RequestFraming.Check(Request(protocol, transferEncoding, contentLength)));
    }

    [Theory]
    [InlineData("HTTP/1.1", "chunked", 3L, "request_framing_invalid:length_and_chunked")]
    [InlineData("HTTP/1.1", "chunked", 0L, "request_framing_invalid:length_and_chunked")]
    [InlineData("HTTP/1.1", "identity, chunked", null, "request_framing_invalid:transfer_coding")]
    [InlineData("HTTP/1.1", "gzip, chunked", 3L, "request_framing_invalid:transfer_coding")]
    [InlineData("HTTP/1.1", "chunked, chunked", null, "request_framing_invalid:transfer_coding")]
    [InlineData("HTTP/1.0", "chunked", null, "request_framing_invalid:http10_transfer_encoding")]
    [InlineData("HTTP/2", "chunked", null, "request_framing_invalid:http2_transfer_encoding")]
    [InlineData("HTTP/3", "chunked", null, "request_framing_invalid:http2_transfer_encoding")]
    public void Check_AmbiguousFraming_400WithTheReason(string protocol, string transferEncoding, long? contentLength, string reason)
    {
        var denial = RequestFraming.Check(Request(protocol, transferEncoding, contentLength));

        Assert.NotNull(denial);
        Assert.Equal((400, "request_framing_invalid", reason), (denial.Status, denial.Code, denial.Reason));
    }

    [Fact]
    public void Check_TwoChunkedHeaderLines_TransferCoding()
    {
        var request = Request("HTTP/1.1", null, null);
        request.Headers.TransferEncoding = new[] { "chunked", "chunked" };

        Assert.Same(RequestFraming.TransferCoding, RequestFraming.Check(request));
    }

    [Fact]
    public void Check_ChunkedWithTheLengthKestrelDropped_LengthAndChunked()
    {
        // Kestrel removes Content-Length when Transfer-Encoding is present and passes it on under this name.
        var request = Request("HTTP/1.1", "chunked", null);
        request.Headers["X-Content-Length"] = "3";

        Assert.Same(RequestFraming.LengthAndChunked, RequestFraming.Check(request));
    }

    [Fact]
    public void Check_Http11Refusal_ClosesTheConnection()
    {
        var denial = RequestFraming.Check(Request("HTTP/1.1", "chunked", 3));

        Assert.Equal("close", denial!.Headers!["Connection"]);
    }

    private static HttpRequest Request(string protocol, string? transferEncoding, long? contentLength)
    {
        var request = new DefaultHttpContext().Request;
        request.Protocol = protocol;
        request.ContentLength = contentLength;
        if (transferEncoding is not null)
        {
            request.Headers.TransferEncoding = transferEncoding;
        }

        return request;
    }
}
