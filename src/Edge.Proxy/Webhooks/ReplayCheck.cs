namespace Edge.Proxy.Webhooks;

internal enum ReplayCheck
{
    /// <summary>The delivery id was not seen before and is now recorded.</summary>
    First,

    /// <summary>Seen before, and its first attempt was accepted (answered below 400).</summary>
    Duplicate,

    /// <summary>
    /// Seen before, and its first attempt has not been accepted yet: it is still at the backend, or the edge cannot tell
    /// whether the backend acted on it. A failed first attempt releases the id, so its retry is then <see cref="First"/>.
    /// </summary>
    InFlight,

    /// <summary>Redis could not answer and the policy rejects rather than fall back.</summary>
    Unavailable,
}

/// <summary>The outcome of a replay check, and on <see cref="ReplayCheck.First"/> the key this request now holds.</summary>
internal readonly record struct ReplayRegistration(ReplayCheck Check, ReplayHold? Hold = null);
