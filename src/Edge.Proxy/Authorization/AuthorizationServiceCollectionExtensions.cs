namespace Edge.Proxy.Authorization;

internal static class AuthorizationServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeAuthorization(this IServiceCollection services) => services;
}
