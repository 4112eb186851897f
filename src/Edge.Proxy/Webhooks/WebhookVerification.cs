namespace Edge.Proxy.Webhooks;

/// <summary>
/// The outcome of checking one delivery's signature. A failure carries a stable <see cref="Code"/> and a precise
/// <see cref="Reason"/> for audit and metrics; neither ever contains a secret or the expected signature.
/// </summary>
internal readonly record struct WebhookVerification(string? Code, string? Reason, long? Timestamp, string? DeliveryId)
{
    public bool IsValid => Code is null;

    public static WebhookVerification Valid(long? timestamp = null, string? deliveryId = null) => new(null, null, timestamp, deliveryId);

    public static WebhookVerification Missing(string detail) => new(WebhookCodes.SignatureMissing, WebhookCodes.SignatureMissing + ":" + detail, null, null);

    public static WebhookVerification Invalid(string detail) => new(WebhookCodes.SignatureInvalid, WebhookCodes.SignatureInvalid + ":" + detail, null, null);
}
