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
    public async Task Forward_ManyHeadersOnAKeepAliveConnection_SpoofedIdentityHeadersStrippedOnEveryRequest()
    {
        // The strip pass reads a copy of the headers in a pooled array: a request with more headers than the one before
        // it on the connection, and spoofed names among Kestrel's known and unknown header slots, lose every spoofed copy.
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));

        foreach (var extra in new[] { 0, 60, 3, 90 })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/orders/{extra}");
            request.Headers.Add("X-Edge-Principal", "admin");
            request.Headers.Add("X-Tenant-ID", "acme");
            request.Headers.Add("Accept", "application/json");
            for (var i = 0; i < extra; i++)
            {
                request.Headers.Add($"X-Filler-{i}", $"value-{i}");
            }

            request.Headers.Add("X-Forwarded-For", "203.0.113.9");
            request.Headers.Add("X-Edge-Tenant", "spoofed");

            using var response = await edge.Client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(4, backend.Received.Count);
        foreach (var received in backend.Received.Select(r => r.RequestMessage!))
        {
            var extra = int.Parse(received.Path.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.False(received.Headers!.ContainsKey("X-Edge-Principal"));
            Assert.Equal("acme", received.Headers["X-Edge-Tenant"].Single());
            Assert.DoesNotContain("203.0.113.9", received.Headers["X-Forwarded-For"].Single(), StringComparison.Ordinal);
            Assert.Equal(extra, received.Headers.Count(h => h.Key.StartsWith("X-Filler-", StringComparison.OrdinalIgnoreCase)));
        }
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
