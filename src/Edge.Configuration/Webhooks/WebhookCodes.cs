namespace Edge.Configuration.Webhooks;

/// <summary>Stable error codes of the webhook step (the <c>code</c> of its problem+json answers).</summary>
internal static class WebhookCodes
{
    public const string SignatureMissing = "signature_missing";
    public const string SignatureInvalid = "signature_invalid";
    public const string TimestampOutOfWindow = "timestamp_out_of_window";
    public const string ReplayedDelivery = "replayed_delivery";
    public const string DeliveryInFlight = "delivery_in_flight";
    public const string DeliveryIdMissing = "delivery_id_missing";
    public const string ReplayStoreUnavailable = "replay_store_unavailable";
    public const string SubscribeVerified = "subscribe_verified";
    public const string SubscribeRejected = "subscribe_rejected";
}
