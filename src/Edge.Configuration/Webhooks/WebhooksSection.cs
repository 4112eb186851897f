namespace Edge.Configuration.Webhooks;

/// <summary><c>Edge:Webhooks</c>: named webhook signature policies.</summary>
internal static class WebhooksSection
{
    public static EdgeSectionDescriptor<IReadOnlyDictionary<string, WebhookPolicyOptions>> Descriptor { get; } =
        new("Webhooks", new Dictionary<string, WebhookPolicyOptions>());

    extension(EdgeSection edge)
    {
        public IReadOnlyDictionary<string, WebhookPolicyOptions> Webhooks => edge.Get(Descriptor);
    }
}
