using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Approvals;

/// <summary>Builds <c>EdgeApproval</c> steps from options that <see cref="ApprovalStepValidator"/> accepted.</summary>
internal sealed class ApprovalStepFactory : IEdgeStepFactory, IEdgeBodyRequirement
{
    public const string StepName = ApprovalStepValidator.StepName;

    public string Name => StepName;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        var name = values[StepName];
        var options = context.Edge.Approvals.TryGetValue(name, out var found)
            ? found
            : throw new InvalidOperationException($"approval policy '{name}' is not defined in Edge:Approvals");

        var services = context.Services;
        return new ApprovalStep(
            ApprovalPolicy.Create(name, options),
            context.Route.RouteId,
            services.GetRequiredService<IApprovalStore>(),
            services.GetRequiredService<ApprovalEvents>(),
            services.GetRequiredService<ApprovalNotifier>(),
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<ApprovalStep>>());
    }

    /// <summary>An approval is bound to the SHA-256 of the body, so the body is buffered (under the route's cap).</summary>
    public EdgeBodyRequirement? GetBodyRequirement(IReadOnlyDictionary<string, string> values, EdgeSection edge) => EdgeBodyRequirement.Any;
}
