using Edge.Proxy.Configuration;

namespace Edge.Proxy.Observability;

/// <summary>
/// The /edge/status document: what is being served and how reloads went. <see cref="State"/> and
/// <see cref="LastError"/> describe the present (a monitor can alert on either and it clears once a valid config is
/// applied); <see cref="LastRefusal"/> is history and stays after a later success.
/// </summary>
internal sealed record EdgeStatus(
    string State,
    string Revision,
    string ContentHash,
    DateTimeOffset? LoadedAt,
    DateTimeOffset? LastAttemptAt,
    string ProxyConfigPath,
    int Routes,
    int Clusters,
    bool RedisConfigured,
    ConfigRefusal? LastError,
    ConfigRefusal? LastRefusal,
    IReadOnlyList<ConfigError> Warnings)
{
    public const string Ok = "ok";
    public const string RefusedKeepingLastGood = "refused-keeping-last-good";
    public const string NotLoaded = "not-loaded";

    public static EdgeStatus From(EdgeConfigState state, EdgeHostOptions options)
    {
        // One read of each snapshot, so revision, times and errors belong together.
        var current = state.Serving;
        var outcome = state.Outcome;
        var status = outcome.LoadedAt is null ? NotLoaded : outcome.LastAttemptRefused ? RefusedKeepingLastGood : Ok;
        return new EdgeStatus(
            status,
            current.RevisionId,
            current.ContentHash,
            outcome.LoadedAt,
            outcome.LastAttemptAt,
            options.ProxyConfigPath,
            current.Routes.Count,
            current.Clusters.Count,
            !string.IsNullOrWhiteSpace(options.Redis),
            outcome.LastAttemptRefused ? outcome.LastRefusal : null,
            outcome.LastRefusal,
            outcome.Warnings);
    }
}
