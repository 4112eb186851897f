using System.Collections.Concurrent;
using Edge.Configuration;
using Edge.Proxy.Configuration;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;

namespace Edge.FunctionalTests.Configuration;

/// <summary>"Applied" (the log line, the metric and the audit event) is said only once YARP serves the new routes.</summary>
public sealed class ReloadOrderTests
{
    [Fact]
    public async Task Reload_RouteAdded_YarpServesItBeforeTheAppliedEventIsRaised()
    {
        using var backend = Backend.Start();
        var probe = new RouteProbe();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["first"] = ProxyJson.Route("/first/{**rest}") }),
            configure: builder => builder.Services.AddSingleton<IConfigEventSink>(services => probe.Bind(services)));

        await edge.WriteConfigAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
            ["second"] = ProxyJson.Route("/second/{**rest}"),
        }));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!probe.Seen.ContainsKey(2) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(probe.Seen.TryGetValue(2, out var servedWhenSaid), "revision 2 was never applied");
        Assert.True(servedWhenSaid, "the applied event came while YARP still served the old routes");
    }

    private sealed class RouteProbe : IConfigEventSink
    {
        private IServiceProvider? _services;

        public ConcurrentDictionary<int, bool> Seen { get; } = new();

        public RouteProbe Bind(IServiceProvider services)
        {
            // Resolved when an event comes: YARP's state is built from the config provider, which takes this sink.
            _services = services;
            return this;
        }

        public void ConfigApplied(string revisionId, string contentHash, EdgeSection? previous, EdgeSection current)
        {
            var revision = int.Parse(revisionId.Split('-')[0], System.Globalization.CultureInfo.InvariantCulture);
            Seen[revision] = _services!.GetRequiredService<IProxyStateLookup>().TryGetRoute("second", out _);
        }

        public void ConfigRefused(IReadOnlyList<ConfigError> errors)
        {
        }
    }
}
