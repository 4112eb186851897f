namespace Edge.Proxy.Configuration;

/// <summary>
/// The config the edge is serving now and the outcome of the last reload attempt; read by steps at build time and by
/// /edge/status and /readyz.
/// </summary>
internal sealed class EdgeConfigState
{
    private EdgeProxyConfig _current = new([], [], EdgeSection.Empty, new string('0', 64), 0);

    public EdgeProxyConfig Current => Volatile.Read(ref _current);

    public bool Loaded { get; private set; }

    public DateTimeOffset? LoadedAt { get; private set; }

    public DateTimeOffset? LastAttemptAt { get; private set; }

    public DateTimeOffset? LastErrorAt { get; private set; }

    public IReadOnlyList<ConfigError> LastErrors { get; private set; } = [];

    public IReadOnlyList<ConfigError> Warnings { get; private set; } = [];

    public void Applied(EdgeProxyConfig config, IReadOnlyList<ConfigError> warnings, DateTimeOffset at)
    {
        Volatile.Write(ref _current, config);
        Loaded = true;
        LoadedAt = at;
        LastAttemptAt = at;
        Warnings = warnings;
    }

    public void Refused(IReadOnlyList<ConfigError> errors, DateTimeOffset at)
    {
        LastAttemptAt = at;
        LastErrorAt = at;
        LastErrors = errors;
    }
}
