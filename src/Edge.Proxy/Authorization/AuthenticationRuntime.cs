namespace Edge.Proxy.Authorization;

/// <summary>What authentication steps share across config revisions: the key cache and the metrics.</summary>
internal sealed class AuthenticationRuntime(SigningKeyCache keys, AuthenticationMetrics metrics)
{
    public SigningKeyCache Keys { get; } = keys;

    public AuthenticationMetrics Metrics { get; } = metrics;
}
