using System.Net;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Pipeline;

public sealed class StepOrderingTests
{
    private static readonly Dictionary<string, string> OptionalHeaderTenant = new() { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "false" };
    private static readonly Dictionary<string, string> StaticTenant = new() { ["EdgeTenant"] = "Static", ["Value"] = "fixed" };
    private static readonly Dictionary<string, string> RequiredHeaderTenant = new() { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" };

    [Fact]
    public async Task Steps_ListedInTwoOrders_LastWriterOfTheTenantWins()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["header-then-static"] = ProxyJson.Route("/a/{**rest}", OptionalHeaderTenant, StaticTenant),
            ["static-then-header"] = ProxyJson.Route("/b/{**rest}", StaticTenant, OptionalHeaderTenant),
        }));

        await SendWithTenantAsync(edge, "/a/x", "from-header");
        await SendWithTenantAsync(edge, "/b/x", "from-header");

        var received = backend.Received.Select(e => (e.RequestMessage!.Path, Tenant: e.RequestMessage!.Headers!["X-Edge-Tenant"].Single())).ToList();
        Assert.Contains(("/a/x", "fixed"), received);
        Assert.Contains(("/b/x", "from-header"), received);
    }

    [Fact]
    public async Task Steps_DenyingStepFirst_LaterStepsDoNotRunAndBackendIsNotCalled()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["deny-first"] = ProxyJson.Route("/a/{**rest}", RequiredHeaderTenant, StaticTenant),
            ["static-first"] = ProxyJson.Route("/b/{**rest}", StaticTenant, OptionalHeaderTenant),
        }));

        using var denied = await edge.Client.GetAsync("/a/x");
        using var allowed = await edge.Client.GetAsync("/b/x");

        Assert.Equal(HttpStatusCode.BadRequest, denied.StatusCode);
        Assert.Equal("application/problem+json", denied.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await denied.Content.ReadAsStringAsync());
        Assert.Equal("tenant_missing", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal("urn:edge:problem:tenant_missing", problem.RootElement.GetProperty("type").GetString());
        Assert.Equal(400, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("/b/x", Assert.Single(backend.Received).RequestMessage!.Path);
    }

    private static async Task SendWithTenantAsync(EdgeHost edge, string path, string tenant)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Tenant-ID", tenant);
        using var response = await edge.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
