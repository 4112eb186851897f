using System.Net;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
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
    [InlineData("::ffff:10.0.0.0/104", "10.0.0.2", "198.51.100.1", "198.51.100.1", true)]
    [InlineData("::ffff:10.0.0.5/128", "::ffff:10.0.0.5", "198.51.100.1", "198.51.100.1", true)]
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

    [Fact]
    public void Format_SecondRequestOnSameConnection_ReusesTheFormattedAddress()
    {
        var connection = new ConnectionItemsFeature();
        var first = Request(connection, IPAddress.Parse("203.0.113.5"));
        var second = Request(connection, first.Connection.RemoteIpAddress!);
        var resolver = new ClientAddressResolver(new EdgeHostOptions());

        var firstText = ClientAddressResolver.Format(first, resolver.Resolve(first));
        var secondText = ClientAddressResolver.Format(second, resolver.Resolve(second));

        Assert.Equal("203.0.113.5", firstText);
        Assert.Same(firstText, secondText);
    }

    [Fact]
    public void Format_RemoteAddressChanged_FormatsTheNewAddress()
    {
        var connection = new ConnectionItemsFeature();
        var resolver = new ClientAddressResolver(new EdgeHostOptions());
        var first = Request(connection, IPAddress.Parse("203.0.113.5"));
        ClientAddressResolver.Format(first, resolver.Resolve(first));
        var second = Request(connection, IPAddress.Parse("198.51.100.9"));

        Assert.Equal("198.51.100.9", ClientAddressResolver.Format(second, resolver.Resolve(second)));
    }

    [Fact]
    public void Format_ViaTrustedProxy_UsesTheForwardedAddressNotTheCachedOne()
    {
        var connection = new ConnectionItemsFeature();
        var resolver = new ClientAddressResolver(new EdgeHostOptions { TrustedProxies = "10.0.0.0/8" });
        var proxy = IPAddress.Parse("10.0.0.2");
        var first = Request(connection, proxy);
        first.Request.Headers["X-Forwarded-For"] = "198.51.100.1";
        var second = Request(connection, proxy);
        second.Request.Headers["X-Forwarded-For"] = "198.51.100.2";

        Assert.Equal("198.51.100.1", ClientAddressResolver.Format(first, resolver.Resolve(first)));
        Assert.Equal("198.51.100.2", ClientAddressResolver.Format(second, resolver.Resolve(second)));
    }

    [Fact]
    public void Format_Http2_DoesNotTouchTheSharedConnectionItems()
    {
        var connection = new ConnectionItemsFeature();
        var resolver = new ClientAddressResolver(new EdgeHostOptions());
        var request = Request(connection, IPAddress.Parse("203.0.113.5"), HttpProtocol.Http2);

        Assert.Equal("203.0.113.5", ClientAddressResolver.Format(request, resolver.Resolve(request)));
        Assert.Empty(connection.Items);
    }

    private static DefaultHttpContext Request(IConnectionItemsFeature connection, IPAddress remote, string protocol = "HTTP/1.1")
    {
        var context = new DefaultHttpContext();
        context.Features.Set(connection);
        context.Connection.RemoteIpAddress = remote;
        context.Request.Protocol = protocol;
        return context;
    }

    /// <summary>What Kestrel gives every request of one connection: the same items dictionary.</summary>
    private sealed class ConnectionItemsFeature : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new ConnectionItems();
    }
}
