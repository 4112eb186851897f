namespace Edge.Proxy.Webhooks;

internal enum ReplayCheck
{
    /// <summary>The delivery id was not seen before and is now recorded.</summary>
    First,

    Duplicate,

    /// <summary>Redis could not answer and the policy rejects rather than fall back.</summary>
    Unavailable,
}
