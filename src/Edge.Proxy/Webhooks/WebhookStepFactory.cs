using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Webhooks;

/// <summary>Builds <c>EdgeWebhook</c> steps: <c>{ "EdgeWebhook": "github-main" }</c> names an entry of <c>Edge:Webhooks</c>.</summary>
internal sealed class WebhookStepFactory : IEdgeStepFactory, IEdgeBodyRequirement
{
    public const string StepName = "EdgeWebhook";

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName);
        var policy = values[StepName];
        if (!context.Edge.Webhooks.ContainsKey(policy))
        {
            context.AddError(StepName, $"webhook policy '{policy}' is not defined in Edge:Webhooks");
        }

        if (context.PrecedingSteps.Contains(StepName, StringComparer.OrdinalIgnoreCase))
        {
            context.AddError(StepName, "a route verifies one webhook signature; EdgeWebhook is listed twice");
        }
    }

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
            services.GetRequiredService<WebhookMetrics>(),
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<WebhookStep>>());
    }

    public bool RequiresBody(IReadOnlyDictionary<string, string> values, EdgeSection edge) => true;

    /// <summary>The body cap of a route's webhook step.</summary>
    public static long MaxBodyBytes(IReadOnlyDictionary<string, string> values, EdgeSection edge) =>
        values.TryGetValue(StepName, out var name) && edge.Webhooks.TryGetValue(name, out var options)
            ? options.MaxBodyBytes
            : WebhookPolicyOptions.DefaultMaxBodyBytes;
}
