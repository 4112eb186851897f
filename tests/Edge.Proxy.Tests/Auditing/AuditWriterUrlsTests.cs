using Edge.Proxy.Auditing;

namespace Edge.Proxy.Tests.Auditing;

public sealed class AuditWriterUrlsTests
{
    [Fact]
    public void Parse_SeveralUrls_KeepsTheirOrder()
    {
        var urls = AuditWriterUrls.Parse(" http://10.0.0.1:9902 ; https://writer-b.internal:9902/ ;");

        Assert.Equal([new Uri("http://10.0.0.1:9902/"), new Uri("https://writer-b.internal:9902/")], urls);
    }

    [Fact]
    public void Parse_OneUrl_IsOneWriter()
    {
        Assert.Equal([new Uri("http://127.0.0.1:9902/")], AuditWriterUrls.Parse("http://127.0.0.1:9902/"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9902;127.0.0.1:9903", "'127.0.0.1:9903'")]
    [InlineData("http://127.0.0.1:9902;ftp://writer:21", "'ftp://writer:21'")]
    [InlineData("http://127.0.0.1:9902;not a url", "'not a url'")]
    [InlineData("http://127.0.0.1:9902;http://127.0.0.1:9903/audit", "'http://127.0.0.1:9903/audit'")]
    [InlineData("http://127.0.0.1:9902?x=1", "'http://127.0.0.1:9902?x=1'")]
    [InlineData("http://127.0.0.1:9902;http://127.0.0.1:9902/", "'http://127.0.0.1:9902/' is listed twice")]
    public void Parse_BadEntry_ErrorNamesTheEntry(string value, string expected)
    {
        var error = Assert.Throws<InvalidOperationException>(() => AuditWriterUrls.Parse(value));

        Assert.StartsWith("Edge:Audit:WriterUrl entry ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UserInfo_RefusedWithoutEchoingThePassword()
    {
        var error = Assert.Throws<InvalidOperationException>(() => AuditWriterUrls.Parse("http://edge:s3cret@writer:9902"));

        Assert.Contains("'http://writer:9902'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ; ")]
    public void Parse_NoEntry_SaysItIsEmpty(string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => AuditWriterUrls.Parse(value));

        Assert.StartsWith("Edge:Audit:WriterUrl is empty", error.Message, StringComparison.Ordinal);
    }
}
