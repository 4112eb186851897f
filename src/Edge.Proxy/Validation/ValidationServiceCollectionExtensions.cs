using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Validation;

internal static class ValidationServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeValidation(this IServiceCollection services)
    {
        services.AddSingleton<IEdgeStepFactory, ValidateStepFactory>();
        return services;
    }
}
