using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Edge.Configuration;

public static class EdgeSectionServiceCollectionExtensions
{
    /// <summary>
    /// Registers a capability's <c>Edge</c> sub-section and its validator. Sections are read (and hashed) in
    /// registration order.
    /// </summary>
    public static IServiceCollection AddEdgeSection<TValidator>(this IServiceCollection services, params EdgeSectionDescriptor[] sections)
        where TValidator : class, IEdgeSectionValidator
    {
        foreach (var section in sections)
        {
            services.AddSingleton(section);
        }

        services.AddSingleton<IEdgeSectionValidator, TValidator>();
        services.TryAddSingleton<ProxyJsonReader>();
        return services;
    }
}
