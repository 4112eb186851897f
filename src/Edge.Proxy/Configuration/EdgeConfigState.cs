namespace Edge.Proxy.Configuration;

/// <summary>
/// The config the edge is serving now and the outcome of the reload attempts; read by steps at build time and by
/// /edge/status and /readyz. The reload outcome is one immutable snapshot, so a reader never sees the time of one
/// attempt with the errors of another.
/// </summary>
internal sealed class EdgeConfigState
{
    private EdgeProxyConfig _current = new([], [], EdgeSection.Empty, new string('0', 64), 0);
    private ReloadOutcome _outcome = new(null, null, null, false, []);

    public EdgeProxyConfig Current => Volatile.Read(ref _current);

    public ReloadOutcome Outcome => Volatile.Read(ref _outcome);

    public bool Loaded => Outcome.LoadedAt is not null;

    public DateTimeOffset? LoadedAt => Outcome.LoadedAt;

    public DateTimeOffset? LastAttemptAt => Outcome.LastAttemptAt;

    public IReadOnlyList<ConfigError> Warnings => Outcome.Warnings;

    public void Applied(EdgeProxyConfig config, IReadOnlyList<ConfigError> warnings, DateTimeOffset at)
    {
        Volatile.Write(ref _current, config);
        // The last refusal is kept for history, but it no longer describes what is served.
        Volatile.Write(ref _outcome, Outcome with { LoadedAt = at, LastAttemptAt = at, LastAttemptRefused = false, Warnings = warnings });
    }

    /// <summary>The file was read again and equals the config being served: the last attempt is no longer a refusal.</summary>
    public void Unchanged(DateTimeOffset at) =>
        Volatile.Write(ref _outcome, Outcome with { LastAttemptAt = at, LastAttemptRefused = false });

    public void Refused(IReadOnlyList<ConfigError> errors, DateTimeOffset at) =>
        Volatile.Write(ref _outcome, Outcome with { LastAttemptAt = at, LastRefusal = new ConfigRefusal(at, errors), LastAttemptRefused = true });
}

/// <summary>When the served config was applied, how the latest attempt went, and the latest refusal (kept after a later success).</summary>
internal sealed record ReloadOutcome(
    DateTimeOffset? LoadedAt,
    DateTimeOffset? LastAttemptAt,
    ConfigRefusal? LastRefusal,
    bool LastAttemptRefused,
    IReadOnlyList<ConfigError> Warnings);

/// <summary>A refused config attempt: when, and every error with its location.</summary>
internal sealed record ConfigRefusal(DateTimeOffset At, IReadOnlyList<ConfigError> Errors);
