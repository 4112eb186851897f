using Edge.Proxy.Configuration;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.Webhooks;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Pipeline;

internal static class PipelineExtensions
{
    public static IServiceCollection AddEdgePipeline(this IServiceCollection services)
    {
        services.AddSingleton<EdgeStepRegistry>();
        services.AddSingleton<ITransformFactory, EdgeStepTransformFactory>();
        services.AddSingleton<ClientAddressResolver>();
        services.AddSingleton<ITransformProvider, ForwardingHeadersTransformProvider>();
        return services;
    }

    public static IServiceCollection AddEdgeProxyConfig(this IServiceCollection services)
    {
        services.AddSingleton<EdgeConfigState>();
        services.AddSingleton<EdgeConfigValidator>();
        services.AddSingleton<FileProxyConfigProvider>();
        services.AddSingleton<IProxyConfigProvider>(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddHostedService(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddReverseProxy();
        return services;
    }

    public static void MapEdgeReverseProxy(this WebApplication app)
    {
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseMiddleware<EdgeRequestMiddleware>();

            // ASP.NET Core's limiter for routes with a RateLimiterPolicy: inside the proxy pipeline (routing has run)
            // so a refusal has its request id and is audited; before body buffering so a refused body is never read.
            pipeline.UseRateLimiter();
            pipeline.UseEdgeWebhookBodyBuffering();
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        }).ConfigureEndpoints(EdgeRouteRateLimiterPolicy.Apply);
    }
}
