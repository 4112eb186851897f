namespace Edge.Configuration.Webhooks;

/// <summary>
/// The outcome of checking one delivery's signature. A failure carries a stable <see cref="Code"/> and a precise
/// <see cref="Reason"/> for audit and metrics; neither ever contains a secret or the expected signature.
/// </summary>
/// <see cref="SignatureId"/> names the verified signature itself, for schemes whose signed content lacks a timestamp or
/// the delivery id: their id is unsigned (GitHub, Generic without {id}) or absent, so only the signature tells a captured
/// delivery from a new one.
internal readonly record struct WebhookVerification(string? Code, string? Reason, long? Timestamp, string? DeliveryId, string? SignatureId = null)
{
    public bool IsValid => Code is null;

    public static WebhookVerification Valid(long? timestamp = null, string? deliveryId = null, string? signatureId = null) => new(null, null, timestamp, deliveryId, signatureId);

    public static WebhookVerification Missing(string detail) => new(WebhookCodes.SignatureMissing, WebhookCodes.SignatureMissing + ":" + detail, null, null);

    public static WebhookVerification Invalid(string detail) => new(WebhookCodes.SignatureInvalid, WebhookCodes.SignatureInvalid + ":" + detail, null, null);

    /// <summary>The replay-store id of a verified signature (the store hashes it again before use as a key).</summary>
    public static string SignatureIdOf(ReadOnlySpan<byte> signature) => "signature:" + Convert.ToHexStringLower(signature);
}
