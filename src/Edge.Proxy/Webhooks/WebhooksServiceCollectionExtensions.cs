namespace Edge.Proxy.Webhooks;

internal static class WebhooksServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeWebhooks(this IServiceCollection services) => services;

    /// <summary>Buffers the raw body of signature-checked routes before the forwarder reads it.</summary>
    public static IReverseProxyApplicationBuilder UseEdgeWebhookBodyBuffering(this IReverseProxyApplicationBuilder pipeline) => pipeline;
}
