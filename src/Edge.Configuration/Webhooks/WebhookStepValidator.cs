
namespace Edge.Configuration.Webhooks;

/// <summary>Validates <c>EdgeWebhook</c> step options: <c>{ "EdgeWebhook": "github-main" }</c> names an entry of <c>Edge:Webhooks</c>.</summary>
internal sealed class WebhookStepValidator : IEdgeStepValidator
{
    public const string StepName = "EdgeWebhook";

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName);
        var policy = values[StepName];
        if (!context.Edge.Webhooks.ContainsKey(policy))
        {
            context.AddError(StepName, $"webhook policy '{policy}' is not defined in Edge:Webhooks; defined: {DefinedNames.List(context.Edge.Webhooks.Keys)}");
        }

        if (context.PrecedingSteps.Contains(StepName, StringComparer.OrdinalIgnoreCase))
        {
            context.AddError(StepName, "a route verifies one webhook signature; EdgeWebhook is listed twice");
        }
    }
}
