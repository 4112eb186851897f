using Edge.Proxy.Observability;
using Edge.Proxy.ThreatProtection;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>
/// Network bans and IPv4 clients: the edge keys an IPv4 client (also one a dual-stack listener shows as
/// <c>::ffff:203.0.113.9</c>) as its IPv4 address, so a ban of an IPv6 network that holds the IPv4-mapped range must be
/// compared with the client's mapped form, as <c>Edge:TrustedProxies</c> does.
/// </summary>
public sealed class ThreatMonitorNetworkTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly EdgeMetrics _metrics;

    public ThreatMonitorNetworkTests() => _metrics = new EdgeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    public void Dispose() => _services.Dispose();

    [Theory]
    [InlineData("::ffff:203.0.113.0/120")] // as an edge before the canonical keys stored it in Redis
    [InlineData("::ffff:cb00:7100/120")]
    [InlineData("::/8")] // holds all of ::ffff:0:0/96
    [InlineData("::ffff:0:0/96")]
    public async Task CheckBeforeSteps_Ipv6NetworkHoldingTheMappedRange_BlocksIpv4ClientsInIt(string network)
    {
        var monitor = ThreatMonitors.InProcess(_metrics);

        await monitor.BanAsync(network, TimeSpan.FromMinutes(10), "incident");

        Assert.NotNull(ThreatMonitors.Blocked(monitor, "203.0.113.9"));
        Assert.Equal(network.StartsWith("::ffff:", StringComparison.Ordinal) && network.EndsWith("/120", StringComparison.Ordinal),
            ThreatMonitors.Blocked(monitor, "198.51.100.1") is null);
    }

    [Fact]
    public async Task CheckBeforeSteps_Ipv6NetworkOutsideTheMappedRange_Ipv4ClientsServed()
    {
        var monitor = ThreatMonitors.InProcess(_metrics);

        await monitor.BanAsync("2001:db8::/32", TimeSpan.FromMinutes(10), "incident");

        Assert.Null(ThreatMonitors.Blocked(monitor, "203.0.113.9"));
        Assert.NotNull(ThreatMonitors.Blocked(monitor, "2001:db8:1::1"));
    }
}
