using Edge.Proxy.Configuration;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Pipeline;

internal static class PipelineExtensions
{
    public static IServiceCollection AddEdgePipeline(this IServiceCollection services)
    {
        services.AddSingleton<EdgeStepRegistry>();
        services.AddSingleton<EdgeDecisions>();
        services.AddSingleton<ITransformFactory, EdgeStepTransformFactory>();
        services.AddSingleton<ClientAddressResolver>();
        services.AddSingleton<UnroutedRequests>();
        services.AddSingleton<ParserRejections>();
        services.AddSingleton<BackendPathRouting>();
        services.AddSingleton<ServerAborts>();
        services.AddHostedService(sp => sp.GetRequiredService<ServerAborts>());
        services.AddSingleton<ITransformProvider, ForwardingHeadersTransformProvider>();
        // Before AddReverseProxy, whose TryAdd then keeps this one.
        services.AddSingleton<IForwarderHttpClientFactory, EdgeForwarderHttpClientFactory>();
        return services;
    }

    public static IServiceCollection AddEdgeProxyConfig(this IServiceCollection services)
    {
        services.AddSingleton<EdgeConfigState>();
        services.AddSingleton<IConfigChangeListener, EdgeConfigChangeListener>();
        services.AddSingleton<FileProxyConfigProvider>();
        services.AddSingleton<IProxyConfigProvider>(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddHostedService(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddEdgeConfigurationValidation();
        // After AddReverseProxy (in AddEdgeConfigurationValidation): every route's transformer checks backend framing first.
        BackendResponseFraming.TransformBuilder.Decorate(services);
        return services;
    }
}
