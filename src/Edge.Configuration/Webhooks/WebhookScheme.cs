namespace Edge.Configuration.Webhooks;

/// <summary>The signature schemes the edge verifies (see docs/webhooks.md).</summary>
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
