using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class HostTrailingDotTests
{
    [Theory]
    [InlineData("admin.example.", "admin.example")]
    [InlineData("admin.example..", "admin.example")]
    [InlineData("admin.example.:8443", "admin.example:8443")]
    [InlineData("admin.example", "admin.example")]
    [InlineData("admin.example:8443", "admin.example:8443")]
    [InlineData("[::1]:8080", "[::1]:8080")]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData(".", ".")]
    public void Remove_HostName_TrailingDotsRemovedPortKept(string host, string expected)
    {
        var context = new DefaultHttpContext();
        context.Request.Host = new HostString(host);

        HostTrailingDot.Remove(context.Request);

        Assert.Equal(expected, context.Request.Host.Value);
    }
}
