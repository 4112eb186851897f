using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Webhooks;

internal static class WebhooksServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeWebhooks(this IServiceCollection services)
    {
        services.AddSingleton<IEdgeStepFactory, WebhookStepFactory>();
        services.AddSingleton<WebhookReplayStore>();
        services.AddSingleton<WebhookMetrics>();
        return services;
    }

}
