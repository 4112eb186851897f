namespace Edge.Configuration.Webhooks;

/// <summary>Verifies one scheme's signature over the raw body bytes, with the policy's active keys.</summary>
internal interface IWebhookVerifier
{
    WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body);
}
