using System.Text;
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
    public void ReadScalar_AfterDispose_Throws_BecauseEveryReadUsesTheOneParsedDocument()
    {
        var body = new EdgeBodyFeature(Encoding.UTF8.GetBytes("""{"id":"evt_1"}"""));
        Assert.Equal("evt_1", body.ReadScalar("/id"));

        body.Dispose();

        Assert.Throws<ObjectDisposedException>(() => body.ReadScalar("/id"));
    }
}
