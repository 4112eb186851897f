using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Webhooks;

/// <summary>Builds <c>EdgeWebhook</c> steps from options that <see cref="WebhookStepValidator"/> accepted.</summary>
internal sealed class WebhookStepFactory(WebhookMetrics metrics) : IEdgeStepFactory, IEdgeBodyRequirement
{
    public const string StepName = WebhookStepValidator.StepName;

    public string Name => StepName;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        var name = values[StepName];
        var options = context.Edge.Webhooks.TryGetValue(name, out var found)
            ? found
            : throw new InvalidOperationException($"webhook policy '{name}' is not defined in Edge:Webhooks");

        var errors = new ConfigErrorList();
        var policy = WebhookPolicy.TryCreate(name, options, errors)
            ?? throw new InvalidOperationException(string.Join("; ", errors.Errors.Select(e => $"{e.Location}: {e.Message}")));

        var services = context.Services;
        return new WebhookStep(
            policy,
            context.Route.RouteId,
            services.GetRequiredService<WebhookReplayStore>(),
            metrics,
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<WebhookStep>>());
    }

    /// <summary>Every delivery is verified over its raw body, under the policy's own cap.</summary>
    public EdgeBodyRequirement? GetBodyRequirement(IReadOnlyDictionary<string, string> values, EdgeSection edge)
    {
        var name = values[StepName];
        if (!edge.Webhooks.TryGetValue(name, out var options))
        {
            return EdgeBodyRequirement.Any;
        }

        var scheme = options.Scheme;
        return new EdgeBodyRequirement(options.MaxBodyBytes)
        {
            // A refused body is this delivery's signature result: audited and counted like the step's own refusals.
            OnRefused = (context, reason) =>
            {
                context.Features.Set(new EdgeSignatureFeature(scheme, reason));
                metrics.Verification(context.GetEdgeRequest()?.RouteId ?? "", name, scheme, reason);
            },
        };
    }
}
