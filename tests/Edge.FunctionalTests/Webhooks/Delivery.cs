using System.Net.Http.Headers;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>One webhook delivery as a sender would send it: raw body bytes and headers.</summary>
internal sealed record Delivery(string Path, byte[] Body, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    public string Method { get; init; } = "POST";

    public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public Delivery WithBody(byte[] body) => this with { Body = body };

    public Delivery WithHeader(string name, string value) =>
        this with { Headers = [.. Headers.Where(h => !string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)), new(name, value)] };

    public Delivery WithoutHeader(string name) =>
        this with { Headers = [.. Headers.Where(h => !string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))] };

    /// <summary>A request with these exact bytes; <paramref name="chunked"/> omits Content-Length so HTTP/1.1 sends chunks.</summary>
    public HttpRequestMessage ToRequest(bool chunked = false, Version? version = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(Method), Path);
        if (version is not null)
        {
            request.Version = version;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        if (Method != "GET")
        {
            HttpContent content = chunked ? new StreamContent(new UnknownLengthStream(Body)) : new ByteArrayContent(Body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            if (chunked)
            {
                request.Headers.TransferEncodingChunked = version is null || version.Major < 2 ? true : null;
            }

            request.Content = content;
        }

        foreach (var (name, value) in Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    /// <summary>A stream that does not report its length, so HttpClient cannot send Content-Length.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}
