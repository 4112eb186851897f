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
    [InlineData("fe80::1%ens-not-here", "fe80::1")]
    [InlineData("fe80::1%lo", "fe80::1")]
    [InlineData("[fe80::1%ens-not-here]:4711", "fe80::1")]
    [InlineData("[2001:db8::7%3]:4711", "2001:db8::7")]
    [InlineData("198.51.100.1, fe80::9%eth-x", "fe80::9")]
    public void Resolve_ForwardedHopWithZoneId_ClientIsTheAddressWithoutTheProxysZone(string forwardedFor, string expected)
    {
        // A zone names an interface of the host that wrote it (the proxy's), not one of the edge's: a number, or a name this
        // host also has, was kept and the audit record and X-Real-IP said fe80::1%1.
        var client = Resolve("127.0.0.0/8", "127.0.0.1", [forwardedFor]);

        Assert.Equal((expected, true), (client.Ip?.ToString(), client.ViaTrustedProxy));
    }

    [Theory]
    [InlineData("unknown")]
    [InlineData("_hidden")]
    [InlineData("\"[2001:db8::1]:80\"")]
    [InlineData("203.0.113.9;proto=https")]
    public void Resolve_RightmostHopUnreadable_ClientIsTheTrustedConnection(string forwardedFor)
    {
        // As nginx's real_ip: a hop no one can vouch for ends the chain at the last address a trusted party reported.
        var client = Resolve("127.0.0.0/8", "127.0.0.1", ["198.51.100.66, " + forwardedFor]);

        Assert.Equal(("127.0.0.1", true), (client.Ip?.ToString(), client.ViaTrustedProxy));
    }

    [Theory]
    [InlineData("203.0.113.66|198.51.100.1")]
    [InlineData("203.0.113.66, 198.51.100.1")]
    [InlineData("  203.0.113.66 ,, 198.51.100.1 ,  ")]
    [InlineData("203.0.113.66|198.51.100.1, 10.0.0.3|127.0.0.1")]
    [InlineData("10.0.0.1, ::ffff:198.51.100.1, ::ffff:10.0.0.3")]
    [InlineData("198.51.100.1:51000")]
    public void Resolve_ClientPrependedEntriesAndHeaders_RightmostUntrustedStillWins(string headerLines)
    {
        // One header line each between the '|'.
        var client = Resolve("127.0.0.0/8, 10.0.0.0/8", "::ffff:127.0.0.1", headerLines.Split('|'));

        Assert.Equal(("198.51.100.1", true), (client.Ip?.ToString(), client.ViaTrustedProxy));
    }

    [Fact]
    public void Resolve_ThousandsOfClientEntries_RightmostUntrustedStillWins()
    {
        var prepended = string.Join(", ", Enumerable.Range(0, 5000).Select(i => $"10.{i / 256 % 256}.{i % 256}.1"));

        var client = Resolve("127.0.0.0/8", "127.0.0.1", [prepended + ", 198.51.100.1"]);

        Assert.Equal(("198.51.100.1", true), (client.Ip?.ToString(), client.ViaTrustedProxy));
    }

    [Fact]
    public void Resolve_ThousandsOfClientEntriesLeftOfTheClient_NoneOfThemAllocated()
    {
        // A client behind a trusted proxy filled its X-Forwarded-For up to Kestrel's header limit: the whole list was split
        // into one string per entry on every request (about 100 KB here), to read the one hop the proxy appended.
        var prepended = string.Join(",", Enumerable.Range(0, 2000).Select(i => $"192.0.{i / 250}.{i % 250 + 1}"));
        var resolver = new ClientAddressResolver(new EdgeHostOptions { TrustedProxies = "127.0.0.0/8" });
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Request.Headers["X-Forwarded-For"] = prepended + ", 198.51.100.1";
        resolver.Resolve(context);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var client = resolver.Resolve(context);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal("198.51.100.1", client.Ip?.ToString());
        Assert.InRange(allocated, 0, 1024);
    }

    [Fact]
    public void Resolve_TrustedProxySendsOnlyForwardedHeader_ClientIsTheProxy()
    {
        // As nginx's real_ip and Envoy: only X-Forwarded-For names the client; RFC 7239 Forwarded is passed on, never read.
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Request.Headers["Forwarded"] = "for=198.51.100.1;proto=https";

        var client = new ClientAddressResolver(new EdgeHostOptions { TrustedProxies = "127.0.0.0/8" }).Resolve(context);

        Assert.Equal(("127.0.0.1", true), (client.Ip?.ToString(), client.ViaTrustedProxy));
    }

    private static ClientAddress Resolve(string trusted, string remote, string[] forwardedFor)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        context.Request.Headers["X-Forwarded-For"] = forwardedFor;
        return new ClientAddressResolver(new EdgeHostOptions { TrustedProxies = trusted }).Resolve(context);
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
