using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tenancy;

internal static class TenancyServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeTenancy(this IServiceCollection services)
    {
        services.AddSingleton<IEdgeStepFactory, TenantStepFactory>();
        return services;
    }
}
