namespace Edge.Proxy.Webhooks;

/// <summary>
/// The delivery id and/or signature id this request recorded as first seen; released again if the delivery is not
/// accepted, so the sender's retry of the same delivery is not mistaken for a replay, and marked accepted once it is.
/// </summary>
internal sealed record ReplayReservation(string Policy, ReplayHold? Delivery, ReplayHold? Signature = null);

/// <summary>
/// One key of the replay store and the value this request put there. Releases and the accepted mark act only while the
/// key still holds this value: after a TTL ran out, the key may be another request's (or another instance's).
/// </summary>
internal sealed record ReplayHold(string Key, string Value)
{
    // The first character says the state; the rest (instance and sequence) never changes. Values of an older edge
    // (lower-case hex) start with neither, and count as in flight: nothing says their delivery was accepted.
    private const char InFlightMark = 'P';
    private const char AcceptedMark = 'A';

    public static string InFlightValue(string owner) => InFlightMark + owner;

    public static bool IsAccepted(string value) => value.Length > 0 && value[0] == AcceptedMark;

    public string AcceptedValue => AcceptedMark + Value[1..];
}
