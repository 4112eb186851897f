
namespace Edge.Configuration.Webhooks;

/// <summary>Checks every <c>Edge:Webhooks</c> policy, including that each referenced secret resolves and fits its scheme.</summary>
internal sealed class WebhooksSectionValidator : IEdgeSectionValidator
{
    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        foreach (var (name, options) in edge.Webhooks)
        {
            WebhookPolicy.TryCreate(name, options, errors);
        }
    }
}
