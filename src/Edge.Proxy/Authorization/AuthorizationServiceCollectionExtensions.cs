using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Authorization;

internal static class AuthorizationServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeAuthorization(this IServiceCollection services)
    {
        services.AddSingleton<IEdgeStepFactory, AuthenticateStepFactory>();
        services.AddSingleton<IEdgeStepFactory, RequireStepFactory>();
        services.AddSingleton<IEdgeStepFactory, RequireClaimStepFactory>();
        services.AddSingleton<IdentityHeaderNames>();
        services.AddSingleton<ITransformProvider, IdentityHeadersTransformProvider>();

        // Resolved only when steps are built (never by offline validation, which has no host configuration).
        services.AddSingleton<SigningKeyFetchLog>();
        services.AddSingleton(sp => new SigningKeyCache(sp.GetRequiredService<SigningKeyFetchLog>().Failed));
        services.AddSingleton<AuthenticationMetrics>();
        services.AddSingleton<AuthenticationRuntime>();
        return services;
    }
}
