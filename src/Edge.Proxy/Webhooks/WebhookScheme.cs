namespace Edge.Proxy.Webhooks;

/// <summary>The signature schemes the edge verifies (see the README section on <c>EdgeWebhook</c>).</summary>
internal enum WebhookScheme
{
    GitHub,
    Meta,
    Telegram,
    Stripe,
    Slack,
    StandardWebhooks,
    Generic,
}
