namespace Edge.Proxy.Configuration;

/// <summary>
/// The config the edge is serving now and the outcome of the reload attempts; read by steps at build time and by
/// /edge/status and /readyz. The reload outcome is one immutable snapshot, so a reader never sees the time of one
/// attempt with the errors of another.
/// </summary>
internal sealed class EdgeConfigState
{
    private static readonly TimeSpan SettleWait = TimeSpan.FromSeconds(5);
    private EdgeProxyConfig _current;
    private EdgeProxyConfig _serving;
    private PendingApply? _pending;
    private ReloadOutcome _outcome = new(null, null, null, false, []);

    public EdgeConfigState()
    {
        // One per state: its change token is signalled by the first load, and a host whose YARP registered on a shared,
        // already signalled token would reload forever.
        _current = new([], [], EdgeSection.Empty, new string('0', 64), 0);
        _serving = _current;
    }

    /// <summary>
    /// The newest valid config: what YARP fetches, and what a route's steps are built from. During a reload it is ahead
    /// of <see cref="Serving"/> until YARP has swapped its routes.
    /// </summary>
    public EdgeProxyConfig Current => Volatile.Read(ref _current);

    /// <summary>The config whose routes YARP matches requests to: what /edge/status and /readyz report, and what a request reads.</summary>
    public EdgeProxyConfig Serving => Volatile.Read(ref _serving);

    public ReloadOutcome Outcome => Volatile.Read(ref _outcome);

    public bool Loaded => Outcome.LoadedAt is not null;

    public DateTimeOffset? LoadedAt => Outcome.LoadedAt;

    public DateTimeOffset? LastAttemptAt => Outcome.LastAttemptAt;

    public IReadOnlyList<ConfigError> Warnings => Outcome.Warnings;

    /// <summary>
    /// Makes <paramref name="config"/> the one YARP fetches and builds steps from, before YARP is told to fetch it. When
    /// YARP reports it applied, it becomes <see cref="Serving"/> at once, on YARP's thread, so that no request served by
    /// the new routes can be followed by a status still naming the old revision; the task then completes (null), or with
    /// the exception YARP refused it with.
    /// </summary>
    public Task<Exception?> Building(EdgeProxyConfig config, IReadOnlyList<ConfigError> warnings, TimeProvider time)
    {
        var pending = new PendingApply(config, warnings, time, new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously));
        Volatile.Write(ref _pending, pending);
        Volatile.Write(ref _current, config);
        return pending.Outcome.Task;
    }

    /// <summary>
    /// Completes once no config is waiting for YARP (at most <see cref="SettleWait"/>). YARP swaps its routes before it
    /// reports it, so while a config is pending its routes may already serve.
    /// </summary>
    public async Task SettledAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _pending) is { } pending)
        {
            try
            {
                await pending.Outcome.Task.WaitAsync(SettleWait, time, cancellationToken);
            }
            catch (TimeoutException)
            {
                // Answer with what is known; the reload logs its own warning if YARP never reports.
            }
        }
    }

    /// <summary>YARP swapped its routes to these configs (<c>IConfigChangeListener.ConfigurationApplied</c>).</summary>
    public void YarpApplied(IReadOnlyList<Yarp.ReverseProxy.Configuration.IProxyConfig> configs) => Settle(configs, null);

    /// <summary>YARP refused these configs and keeps its routes (<c>IConfigChangeListener.ConfigurationApplyingFailed</c>).</summary>
    public void YarpFailed(IReadOnlyList<Yarp.ReverseProxy.Configuration.IProxyConfig> configs, Exception exception) => Settle(configs, exception);

    /// <summary>YARP serves <paramref name="config"/> now.</summary>
    public void Applied(EdgeProxyConfig config, IReadOnlyList<ConfigError> warnings, DateTimeOffset at)
    {
        Volatile.Write(ref _current, config);
        Volatile.Write(ref _serving, config);
        // The last refusal is kept for history, but it no longer describes what is served.
        Volatile.Write(ref _outcome, Outcome with { LoadedAt = at, LastAttemptAt = at, LastAttemptRefused = false, Warnings = warnings });

        // Counted as applied without YARP's report (only after a reload gave up waiting): nothing waits for it any more.
        if (Volatile.Read(ref _pending) is { } pending && ReferenceEquals(pending.Config, config)
            && Interlocked.CompareExchange(ref _pending, null, pending) == pending)
        {
            pending.Outcome.TrySetResult(null);
        }
    }

    /// <summary>The file was read again and equals the config being served: the last attempt is no longer a refusal.</summary>
    public void Unchanged(DateTimeOffset at) =>
        Volatile.Write(ref _outcome, Outcome with { LastAttemptAt = at, LastAttemptRefused = false });

    public void Refused(IReadOnlyList<ConfigError> errors, DateTimeOffset at) =>
        Volatile.Write(ref _outcome, Outcome with { LastAttemptAt = at, LastRefusal = new ConfigRefusal(at, errors), LastAttemptRefused = true });

    private void Settle(IReadOnlyList<Yarp.ReverseProxy.Configuration.IProxyConfig> configs, Exception? exception)
    {
        if (Volatile.Read(ref _pending) is not { } pending)
        {
            return;
        }

        foreach (var config in configs)
        {
            if (ReferenceEquals(config, pending.Config))
            {
                if (exception is null)
                {
                    Applied(pending.Config, pending.Warnings, pending.Time.GetUtcNow());
                }
                else
                {
                    pending.Outcome.TrySetResult(exception);
                }

                return;
            }
        }
    }

    private sealed record PendingApply(EdgeProxyConfig Config, IReadOnlyList<ConfigError> Warnings, TimeProvider Time, TaskCompletionSource<Exception?> Outcome);
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
