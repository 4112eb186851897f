namespace Edge.Proxy.Webhooks;

/// <summary>
/// The delivery id and/or signature id this request recorded as first seen; released again if the delivery is not
/// accepted, so the sender's retry of the same delivery is not mistaken for a replay.
/// </summary>
internal sealed record ReplayReservation(string Policy, string? DeliveryId, string? SignatureId = null);
