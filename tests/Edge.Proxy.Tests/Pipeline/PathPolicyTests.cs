using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class PathPolicyTests
{
    [Theory]
    [InlineData("/orders/..\\..\\secure\\admin\\x")]
    [InlineData("/orders/..%2F..%2Fsecure%2Fadmin")]
    [InlineData("/orders/..%2f..%2fsecure/admin")]
    [InlineData("/orders/..%5Csecure")]
    [InlineData("/orders/x%2F..")]
    [InlineData("/orders/.\\x")]
    [InlineData("/orders/%2e%2e%2Fsecure")]
    [InlineData("/orders/.%2E%2Fsecure")]
    public void HidesDotSegment_DotSegmentBehindBackslashOrEncodedSlash_True(string path) =>
        Assert.True(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/orders/42")]
    [InlineData("/projects/group%2Fproject/issues")]
    [InlineData("/files/a%5Cb")]
    [InlineData("/orders/..x%2Fy")]
    [InlineData("/orders/.well-known%2Fz")]
    [InlineData("/orders/100%25")]
    [InlineData("/")]
    [InlineData("")]
    [InlineData(null)]
    public void HidesDotSegment_NamesWithEncodedSlashesOrNoDotSegment_False(string? path) =>
        Assert.False(PathPolicy.HidesDotSegment(path));
}
