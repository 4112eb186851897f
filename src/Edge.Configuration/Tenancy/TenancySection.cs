using Microsoft.Extensions.DependencyInjection;

namespace Edge.Configuration.Tenancy;

/// <summary><c>Edge:Tenancy</c>: edge-wide tenancy settings.</summary>
public static class TenancySection
{
    public static EdgeSectionDescriptor<TenancyOptions> Descriptor { get; } = new("Tenancy", new TenancyOptions());

    /// <summary>Registers <c>Edge:Tenancy</c> and its validator.</summary>
    public static IServiceCollection AddEdgeTenancySection(this IServiceCollection services) =>
        services.AddEdgeSection<TenancySectionValidator>(Descriptor);

    extension(EdgeSection edge)
    {
        public TenancyOptions Tenancy => edge.Get(Descriptor);
    }
}
