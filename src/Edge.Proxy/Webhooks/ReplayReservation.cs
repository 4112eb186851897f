namespace Edge.Proxy.Webhooks;

/// <summary>A delivery id this request recorded as first seen; released again if the delivery is not accepted.</summary>
internal sealed record ReplayReservation(string Policy, string DeliveryId)
{
    public const string ItemKey = "webhook.replay_reservation";
}
