using System.Net;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.Pipeline;

public sealed class ForwardingTests
{
    [Fact]
    public async Task Forward_RequestWithQueryHeadersAndBody_ReachesBackendUnchanged()
    {
        using var backend = Backend.Start(status: 201, body: "created-by-backend");
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));

        var body = "{\"item\":\"böök\",\"qty\":3}\n";
        using var request = new HttpRequestMessage(HttpMethod.Put, "/orders/42/lines?expand=true&x=%20y")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Tenant-ID", "acme");
        request.Headers.Add("X-Custom", "kept");
        request.Headers.Add("X-Edge-Tenant", "spoofed");
        request.Headers.Add("X-Edge-Principal", "admin");

        using var response = await edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("created-by-backend", await response.Content.ReadAsStringAsync());
        Assert.True(response.Headers.Contains("X-Request-Id"));
        var received = Assert.Single(backend.Received).RequestMessage!;
        Assert.Equal("PUT", received.Method);
        Assert.Equal("/orders/42/lines", received.Path);
        Assert.Equal("?expand=true&x=%20y", new Uri(received.Url).Query);
        Assert.Equal(Encoding.UTF8.GetBytes(body), received.BodyAsBytes);
        Assert.Equal("kept", received.Headers!["X-Custom"].Single());
        Assert.Equal("acme", received.Headers["X-Edge-Tenant"].Single());
        Assert.False(received.Headers.ContainsKey("X-Edge-Principal"));
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), received.Headers.Single(h => h.Key.Equals("X-Request-Id", StringComparison.OrdinalIgnoreCase)).Value.Single());
    }

    [Fact]
    public async Task Forward_NoMatchingRoute_Returns404WithoutCallingBackend()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}"),
        }));

        using var response = await edge.Client.GetAsync("/elsewhere");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(backend.Received);
    }
}
