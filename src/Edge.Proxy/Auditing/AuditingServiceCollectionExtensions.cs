namespace Edge.Proxy.Auditing;

internal static class AuditingServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeAuditing(this IServiceCollection services)
    {
        services.AddSingleton<IAuditSink, LoggingAuditSink>();
        return services;
    }
}
