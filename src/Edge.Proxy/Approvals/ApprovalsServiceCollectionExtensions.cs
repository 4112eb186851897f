using Microsoft.Extensions.DependencyInjection.Extensions;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Redis;

namespace Edge.Proxy.Approvals;

internal static class ApprovalsServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeApprovals(this IServiceCollection services)
    {
        services.AddSingleton<IEdgeStepFactory, ApprovalStepFactory>();
        services.AddSingleton<Yarp.ReverseProxy.Transforms.Builder.ITransformProvider, ApprovalTokenHeaderTransformProvider>();
        // Redis when configured: a token must be consumed once across every instance, so there is no local fallback.
        services.TryAddSingleton<IApprovalStore>(sp => sp.GetRequiredService<EdgeRedis>().IsConfigured
            ? new RedisApprovalStore(sp.GetRequiredService<EdgeRedis>())
            : new InProcessApprovalStore());
        services.AddSingleton<ApprovalMetrics>();
        services.AddSingleton<ApprovalEvents>();
        services.AddSingleton<ApprovalNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<ApprovalNotifier>());
        services.AddSingleton<ApprovalsApi>();
        return services;
    }
}
