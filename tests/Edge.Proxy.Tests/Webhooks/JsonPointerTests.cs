using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Webhooks;

public sealed class JsonPointerTests
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
        Assert.Equal(expected, JsonPointer.ReadScalar(System.Text.Encoding.UTF8.GetBytes(json), pointer));
    }
}
