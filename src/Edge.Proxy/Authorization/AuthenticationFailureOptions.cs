namespace Edge.Proxy.Authorization;

/// <summary>Host settings <c>Edge:AuthFailures:*</c> of the brute-force signal.</summary>
internal sealed record AuthenticationFailureOptions
{
    public const string SectionName = "Edge:AuthFailures";

    /// <summary>Failures within <see cref="Window"/> after which a client IP or principal counts as a suspect.</summary>
    public int Threshold { get; init; } = 10;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Most IPs (and, separately, principals) tracked at once; beyond it new keys are not tracked until old windows expire.</summary>
    public int MaxTracked { get; init; } = 100_000;
}
