using Microsoft.Extensions.DependencyInjection;

namespace Edge.Configuration.Approvals;

/// <summary><c>Edge:Approvals</c>: named approval policies.</summary>
public static class ApprovalsSection
{
    public static EdgeSectionDescriptor<IReadOnlyDictionary<string, ApprovalPolicyOptions>> Descriptor { get; } =
        new("Approvals", new Dictionary<string, ApprovalPolicyOptions>());

    /// <summary>Registers <c>Edge:Approvals</c> and its validator.</summary>
    public static IServiceCollection AddEdgeApprovalsSection(this IServiceCollection services) =>
        services.AddEdgeSection<ApprovalsSectionValidator>(Descriptor);

    extension(EdgeSection edge)
    {
        public IReadOnlyDictionary<string, ApprovalPolicyOptions> Approvals => edge.Get(Descriptor);
    }
}
