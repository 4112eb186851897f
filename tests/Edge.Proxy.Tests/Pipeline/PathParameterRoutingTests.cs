using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class PathParameterRoutingTests
{
    [Theory]
    [InlineData("/admin;x/users", "/admin/users")]
    [InlineData("/admin;a=1;b=2/users;jsessionid=3", "/admin/users")]
    [InlineData("/app/page;jsessionid=A1", "/app/page")]
    [InlineData("/;x/y", "//y")]
    [InlineData("/plain/path", "/plain/path")]
    public void WithoutPathParameters_EachSegmentsParameters_Removed(string path, string expected) =>
        Assert.Equal(expected, PathParameterRouting.WithoutPathParameters(path));
}
