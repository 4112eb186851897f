using Edge.Proxy.Observability;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Hostile;

/// <summary>Management endpoints must not be reachable through the proxy port, whatever the client claims in the request.</summary>
public sealed class ManagementExposureTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    /// <summary>Every Host / target / forwarding form a client can use to claim it is talking to the management port.</summary>
    public static TheoryData<string> SpoofForms() => new()
    {
        "Host: x:{mgmt}",
        "Host: 127.0.0.1:{mgmt}",
        "Host: localhost:{mgmt}",
        "Host: [::1]:{mgmt}",
        "absolute-form http://127.0.0.1:{mgmt}",
        "Host: x\r\nX-Forwarded-Host: 127.0.0.1:{mgmt}\r\nX-Forwarded-Port: {mgmt}",
    };

    [Theory]
    [MemberData(nameof(SpoofForms))]
    public async Task ManagementPaths_SpoofedHostOnProxyPort_NotFound(string form)
    {
        var paths = ManagementPaths();
        Assert.Contains("/metrics", paths);
        Assert.Contains("/edge/status", paths);
        Assert.Contains("/healthz", paths);
        Assert.Contains("/readyz", paths);

        foreach (var path in paths)
        {
            var spoof = form.Replace("{mgmt}", fixture.Edge.ManagementPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            var request = spoof.StartsWith("absolute-form ", StringComparison.Ordinal)
                ? $"GET {spoof["absolute-form ".Length..]}{path} HTTP/1.1\r\nHost: {spoof["absolute-form http://".Length..]}\r\nConnection: close\r\n\r\n"
                : $"GET {path} HTTP/1.1\r\n{spoof}\r\nConnection: close\r\n\r\n";

            var onProxy = await RawHttp.SendAsync(fixture.Edge.ProxyPort, request);
            var onManagement = await RawHttp.SendAsync(fixture.Edge.ManagementPort, $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

            Assert.True(onProxy.Status == 404, $"{path} with '{spoof}' on the proxy port answered {onProxy.Status}");
            Assert.DoesNotContain("revision", onProxy.Body, StringComparison.OrdinalIgnoreCase);
            Assert.True(onManagement.Status is 200, $"{path} on the management port answered {onManagement.Status}");
        }
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task ManagementPaths_OtherMethodOnProxyPort_NotFoundNotMethodNotAllowed(string method)
    {
        foreach (var path in ManagementPaths())
        {
            var request = $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

            var onProxy = await RawHttp.SendAsync(fixture.Edge.ProxyPort, request);

            // 405 would tell the client the path exists on this edge.
            Assert.True(onProxy.Status == 404, $"{method} {path} on the proxy port answered {onProxy.Status}");
        }
    }

    /// <summary>Read from the running edge, so a management endpoint added later is covered without editing this test.</summary>
    private string[] ManagementPaths() =>
        [.. fixture.Edge.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<ManagementEndpointMarker>() is not null)
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/'))
            .Distinct()];
}
