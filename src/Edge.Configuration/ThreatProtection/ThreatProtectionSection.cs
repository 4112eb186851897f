using Microsoft.Extensions.DependencyInjection;

namespace Edge.Configuration.ThreatProtection;

/// <summary><c>Edge:ThreatProtection</c>: ban rules.</summary>
internal static class ThreatProtectionSection
{
    public static EdgeSectionDescriptor<ThreatProtectionOptions> Descriptor { get; } = new("ThreatProtection", new ThreatProtectionOptions());

    public static IServiceCollection AddEdgeThreatProtectionSection(this IServiceCollection services) =>
        services.AddEdgeSection<ThreatProtectionSectionValidator>(Descriptor);

    extension(EdgeSection edge)
    {
        public ThreatProtectionOptions ThreatProtection => edge.Get(Descriptor);
    }
}
