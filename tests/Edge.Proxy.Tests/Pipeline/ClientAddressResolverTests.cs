using System.Net;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class ClientAddressResolverTests
{
    [Theory]
    [InlineData("", "203.0.113.5", "198.51.100.1", "203.0.113.5", false)]
    [InlineData("10.0.0.0/8", "203.0.113.5", "198.51.100.1", "203.0.113.5", false)]
    [InlineData("10.0.0.0/8", "10.0.0.2", "198.51.100.1", "198.51.100.1", true)]
    [InlineData("10.0.0.0/8", "10.0.0.2", "192.0.2.1, 198.51.100.1, 10.9.9.9", "198.51.100.1", true)]
    [InlineData("10.0.0.0/8", "10.0.0.2", "10.1.1.1, 10.2.2.2", "10.1.1.1", true)]
    [InlineData("10.0.0.0/8", "10.0.0.2", "not-an-ip, 10.2.2.2", "10.2.2.2", true)]
    [InlineData("10.0.0.0/8", "10.0.0.2", "198.51.100.1:4711", "198.51.100.1", true)]
    [InlineData("10.0.0.0/8", "10.0.0.2", "", "10.0.0.2", true)]
    [InlineData("10.0.0.5; 2001:db8::/32", "::ffff:10.0.0.5", "[2001:db8::1]:80, 198.51.100.7", "198.51.100.7", true)]
    public void Resolve_ForwardedForChain_RightmostUntrustedHopIsClient(string trusted, string remote, string forwardedFor, string expected, bool viaProxy)
    {
        var resolver = new ClientAddressResolver(new EdgeHostOptions { TrustedProxies = trusted });
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        if (forwardedFor.Length > 0)
        {
            context.Request.Headers["X-Forwarded-For"] = forwardedFor;
        }

        var client = resolver.Resolve(context);

        Assert.Equal(expected, client.Ip?.ToString());
        Assert.Equal(viaProxy, client.ViaTrustedProxy);
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("proxy.internal")]
    [InlineData("10.0.0.0/8, nonsense")]
    public void ParseTrustedProxies_Malformed_ThrowsNamingTheEntry(string value)
    {
        var exception = Assert.Throws<InvalidOperationException>(() => ClientAddressResolver.ParseTrustedProxies(value));

        Assert.Contains("Edge:TrustedProxies", exception.Message, StringComparison.Ordinal);
    }
}
