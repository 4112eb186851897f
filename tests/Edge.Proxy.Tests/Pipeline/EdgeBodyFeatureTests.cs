using System.Text;
using System.Text.Json;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class EdgeBodyFeatureTests
{
    [Theory]
    [InlineData("{\"id\":\"evt_1\"}", "/id", "evt_1")]
    [InlineData("{\"update_id\":123456}", "/update_id", "123456")]
    [InlineData("{\"entry\":[{\"id\":\"e0\"},{\"id\":\"e1\"}]}", "/entry/1/id", "e1")]
    [InlineData("{\"a/b\":{\"m~n\":\"x\"}}", "/a~1b/m~0n", "x")]
    [InlineData("{\"id\":{\"nested\":1}}", "/id", null)]
    [InlineData("{\"id\":\"\"}", "/id", null)]
    [InlineData("{\"other\":1}", "/id", null)]
    [InlineData("token=a&b=c", "/id", null)]
    [InlineData("", "/id", null)]
    public void ReadScalar_Pointer_ValueOrNull(string json, string pointer, string? expected)
    {
        using var body = new EdgeBodyFeature(Encoding.UTF8.GetBytes(json));

        Assert.Equal(expected, body.ReadScalar(pointer));
    }

    [Fact]
    public void Form_ReadByTwoChecks_DecodedOnce()
    {
        // The method-override check (body buffering) and the credential check (EdgeAuthenticate) read the same text.
        using var body = new EdgeBodyFeature(Encoding.Unicode.GetBytes("a=1&_method=POST"));
        const string contentType = "application/x-www-form-urlencoded; charset=utf-16";

        var first = body.Form(contentType);

        Assert.Same(first, body.Form(contentType));
        Assert.Equal("a=1&_method=POST", first.Declared);
    }

    [Theory]
    [InlineData("{\"sender\":{\"id\":\"\\ud800\"}}")]
    [InlineData("{\"sender\":{\"id\":\"a\\udfffb\"}}")]
    public void ReadValueAndScalar_UnpairedSurrogateEscape_Null(string json)
    {
        // GetString threw InvalidOperationException out of the rate-limit key and the delivery id: 502 backend_unavailable.
        using var body = new EdgeBodyFeature(Encoding.UTF8.GetBytes(json));

        Assert.Null(body.ReadValue("/sender/id"));
        Assert.Null(body.ReadScalar("/sender/id"));
    }

    [Fact]
    public void ReadScalar_AfterDispose_Throws_BecauseEveryReadUsesTheOneParsedDocument()
    {
        var body = new EdgeBodyFeature(Encoding.UTF8.GetBytes("""{"id":"evt_1"}"""));
        Assert.Equal("evt_1", body.ReadScalar("/id"));

        body.Dispose();

        Assert.Throws<ObjectDisposedException>(() => body.ReadScalar("/id"));
    }

    [Fact]
    public void ParseStrict_FirstParse_BecomesTheDocumentLaterReadsUse()
    {
        using var body = new EdgeBodyFeature(Encoding.UTF8.GetBytes("""{"sender":{"id":"s-1"}}"""));

        var document = body.ParseStrict(new JsonDocumentOptions { MaxDepth = 8 });

        Assert.Equal("s-1", body.ReadScalar("/sender/id"));
        body.Dispose();
        Assert.Throws<ObjectDisposedException>(() => document.RootElement.GetProperty("sender"));
    }

    [Fact]
    public void ParseStrict_AfterLenientRead_SeparateDocumentAlsoDisposedWithTheRequest()
    {
        var body = new EdgeBodyFeature(Encoding.UTF8.GetBytes("""{"id":"evt_1"}"""));
        Assert.Equal("evt_1", body.ReadScalar("/id"));

        var document = body.ParseStrict(new JsonDocumentOptions { MaxDepth = 8 });
        Assert.Equal("evt_1", document.RootElement.GetProperty("id").GetString());

        body.Dispose();
        Assert.Throws<ObjectDisposedException>(() => document.RootElement.GetProperty("id"));
    }

    [Theory]
    [InlineData("""{"a":1,"a":2}""")]
    [InlineData("[[[1]]]")]
    [InlineData("{\"a\":")]
    public void ParseStrict_BreaksTheRules_ThrowsJsonException(string json)
    {
        using var body = new EdgeBodyFeature(Encoding.UTF8.GetBytes(json));

        Assert.ThrowsAny<JsonException>(() => body.ParseStrict(new JsonDocumentOptions { MaxDepth = 2, AllowDuplicateProperties = false }));
    }
}
