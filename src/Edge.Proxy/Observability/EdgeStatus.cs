using Edge.Proxy.Configuration;

namespace Edge.Proxy.Observability;

/// <summary>The /edge/status document: what is being served and how the last reload went.</summary>
internal sealed record EdgeStatus(
    string Revision,
    string ContentHash,
    DateTimeOffset? LoadedAt,
    DateTimeOffset? LastAttemptAt,
    string ProxyConfigPath,
    int Routes,
    int Clusters,
    bool RedisConfigured,
    EdgeStatus.ErrorInfo? LastError,
    IReadOnlyList<ConfigError> Warnings)
{
    public static EdgeStatus From(EdgeConfigState state, EdgeHostOptions options)
    {
        var current = state.Current;
        return new EdgeStatus(
            current.RevisionId,
            current.ContentHash,
            state.LoadedAt,
            state.LastAttemptAt,
            options.ProxyConfigPath,
            current.Routes.Count,
            current.Clusters.Count,
            !string.IsNullOrWhiteSpace(options.Redis),
            state.LastErrorAt is { } at ? new ErrorInfo(at, state.LastErrors) : null,
            state.Warnings);
    }

    internal sealed record ErrorInfo(DateTimeOffset At, IReadOnlyList<ConfigError> Errors);
}
