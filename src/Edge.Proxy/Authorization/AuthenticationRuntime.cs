namespace Edge.Proxy.Authorization;

/// <summary>What authentication steps share across config revisions: the key cache and the failure signal.</summary>
internal sealed class AuthenticationRuntime(SigningKeyCache keys, AuthenticationFailureTracker failures, AuthenticationMetrics metrics)
{
    public SigningKeyCache Keys { get; } = keys;

    public AuthenticationFailureTracker Failures { get; } = failures;

    public AuthenticationMetrics Metrics { get; } = metrics;
}
