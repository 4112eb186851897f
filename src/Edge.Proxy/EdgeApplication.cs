using Edge.Proxy.Auditing;
using Edge.Proxy.Authorization;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.Redis;
using Edge.Proxy.Tenancy;
using Edge.Proxy.Webhooks;

namespace Edge.Proxy;

/// <summary>
/// Builds the edge host. Kept out of Program.cs so functional tests can start real Kestrel instances in-process.
/// </summary>
public static class EdgeApplication
{
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        var host = builder.AddEdgeHostOptions();
        builder.AddEdgeObservability();
        builder.Services.AddEdgeRedis(host);
        builder.Services.AddEdgePipeline();
        builder.Services.AddEdgeTenancy();
        builder.Services.AddEdgeRateLimiting();
        builder.Services.AddEdgeWebhooks();
        builder.Services.AddEdgeAuthorization();
        builder.Services.AddEdgeAuditing();
        builder.Services.AddEdgeProxyConfig();

        var app = builder.Build();
        app.UseEdgeManagementPortFilter(host);
        app.MapEdgeManagementEndpoints(host);
        app.MapEdgeReverseProxy();
        return app;
    }
}
