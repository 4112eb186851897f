using System.Security.Cryptography;
using System.Text.Json;
using Edge.Proxy.Observability;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Configuration;

/// <summary>
/// Reads proxy.json itself instead of going through the JSON configuration provider, which turns a missing or broken
/// file into an empty config that YARP would apply as valid. Every edit is parsed and fully validated first; a bad edit
/// is refused and the last good config keeps serving.
/// The first load runs in <see cref="StartingAsync"/>, before Kestrel opens the listeners: an invalid file fails the host
/// start with <see cref="EdgeConfigException"/>, and nothing blocks on I/O in a constructor.
/// </summary>
internal sealed partial class FileProxyConfigProvider : IProxyConfigProvider, IHostedLifecycleService, IDisposable
{
    /// <summary>How long a reload waits for YARP to report it has swapped its routes; in practice it reports within milliseconds.</summary>
    private static readonly TimeSpan YarpApplyTimeout = TimeSpan.FromSeconds(30);

    private readonly EdgeHostOptions _options;
    private readonly ProxyJsonReader _reader;
    private readonly EdgeConfigValidator _validator;
    private readonly EdgeConfigState _state;
    private readonly EdgeMetrics _metrics;
    private readonly IEnumerable<IConfigEventSink> _events;
    private readonly IEnumerable<IEdgeExternalContent> _externalContent;
    private readonly TimeProvider _time;
    private readonly ILogger<FileProxyConfigProvider> _logger;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private FileSystemWatcher? _watcher;
    private ITimer? _poll;
    private string _lastSeenHash = "";
    private string? _lastRefusal;
    private string? _yarpRefusedHash;
    private (DateTime WriteTime, long Length) _lastSeenStamp;
    // The files the last candidate read besides proxy.json (file: secrets, JSON schemas) and their stamps when it was read:
    // a rotated secret file is applied by the next poll, not only by an edit of proxy.json or a restart.
    private string[] _dependencies = [];
    private string _lastDependencyStamp = "";
    private int _disposed;

    public FileProxyConfigProvider(
        EdgeHostOptions options,
        ProxyJsonReader reader,
        EdgeConfigValidator validator,
        EdgeConfigState state,
        EdgeMetrics metrics,
        IEnumerable<IConfigEventSink> events,
        IEnumerable<IEdgeExternalContent> externalContent,
        TimeProvider time,
        ILogger<FileProxyConfigProvider> logger)
    {
        _options = options;
        _reader = reader;
        _validator = validator;
        _state = state;
        _metrics = metrics;
        _events = events;
        _externalContent = externalContent;
        _time = time;
        _logger = logger;
    }

    /// <summary>Until <see cref="StartingAsync"/> has run this is the empty revision 0; YARP picks up the first load through its change token.</summary>
    public IProxyConfig GetConfig() => _state.Current;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken);
        try
        {
            var (config, errors, hash) = await LoadCandidateAsync(previous: null);
            if (config is null)
            {
                foreach (var error in errors)
                {
                    // A refused file's warnings are still warnings: logged as errors they read as one more reason it was refused.
                    if (error.IsWarning)
                    {
                        Log.ConfigWarning(_logger, _options.ProxyConfigPath, error.Location, error.Message);
                    }
                    else
                    {
                        Log.ConfigError(_logger, _options.ProxyConfigPath, error.Location, error.Message);
                    }
                }

                _metrics.ConfigReload("refused");
                throw new EdgeConfigException(_options.ProxyConfigPath, errors.Where(e => !e.IsWarning).ToList());
            }

            if (!await ApplyAsync(config, errors))
            {
                throw new EdgeConfigException(_options.ProxyConfigPath, _state.Outcome.LastRefusal?.Errors ?? []);
            }

            _lastSeenHash = hash;
            _lastSeenStamp = Stamp();
            // Else the first poll took the files the start read for changed ones and validated the same config again.
            _lastDependencyStamp = DependencyStamp();
        }
        finally
        {
            _reloadLock.Release();
        }

        WatchForChanges();
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void WatchForChanges()
    {
        var directory = Path.GetDirectoryName(_options.ProxyConfigPath)!;
        try
        {
            _watcher = new FileSystemWatcher(directory, Path.GetFileName(_options.ProxyConfigPath))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => TriggerReload();
            _watcher.Created += (_, _) => TriggerReload();
            _watcher.Renamed += (_, _) => TriggerReload();
            _watcher.Deleted += (_, _) => TriggerReload();
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
        {
            // Polling below still notices edits; notifications only make them faster.
            Log.WatcherUnavailable(_logger, directory, ex.Message);
        }

        // Polling covers file systems and editors whose changes raise no notification (network mounts, atomic renames).
        _poll = _time.CreateTimer(_ => PollForChange(), null, _options.ConfigPollInterval, _options.ConfigPollInterval);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _watcher?.Dispose();
        _poll?.Dispose();
    }

    /// <summary>Re-reads proxy.json now; returns true when a new config was applied.</summary>
    public async Task<bool> ReloadAsync()
    {
        await _reloadLock.WaitAsync();
        try
        {
            if (Volatile.Read(ref _disposed) == 1)
            {
                return false;
            }

            _lastSeenStamp = Stamp();
            // Stamped before they are read: a file written after the stamp changes it again, and the next poll reloads.
            var dependencies = Volatile.Read(ref _dependencies);
            var dependenciesBefore = DependencyStamp();
            var previous = _state.Current;
            var refused = _state.Outcome.LastAttemptRefused;
            var (config, errors, hash) = await LoadCandidateAsync(previous);
            var dependenciesChanged = dependenciesBefore != _lastDependencyStamp;
            _lastDependencyStamp = Volatile.Read(ref _dependencies).AsSpan().SequenceEqual(dependencies) ? dependenciesBefore : DependencyStamp();

            // The same bytes again are nothing new, unless they were refused (the cause may lie outside proxy.json, in a
            // file: secret or a schema created since) or a file they read changed (a rotated secret).
            if (hash == _lastSeenHash && !refused && !dependenciesChanged)
            {
                return false;
            }

            _lastSeenHash = hash;
            if (config is null)
            {
                // One edit often raises several notifications (an editor's truncate, then its write; the poll), and the
                // same bytes refused for the same reasons are the same refusal: counted, logged and audited once.
                var refusal = hash + "\n" + string.Join('\n', errors.Where(e => !e.IsWarning).Select(e => e.Location + ": " + e.Message));
                if (refused && refusal == _lastRefusal && !dependenciesChanged)
                {
                    return false;
                }

                _lastRefusal = refusal;
                Refuse(errors);
                return false;
            }

            _lastRefusal = null;

            if (config.ContentHash == _state.Serving.ContentHash && config.PolicyHash == _state.Serving.PolicyHash)
            {
                // The file is back to what is serving (the usual way out of a refused edit): nothing to apply, but the
                // refusal no longer describes the file.
                _state.Unchanged(_time.GetUtcNow());
                _metrics.SetConfigLastReloadSuccessful(true);
                if (refused)
                {
                    // Else the log's last word was the refusal, though the status and the metric had cleared.
                    Log.RefusalOver(_logger, _options.ProxyConfigPath, _state.Serving.RevisionId);
                }

                return false;
            }

            // The same config YARP refused, noticed again (an editor's several writes, the poll): refused once.
            if (refused && config.ContentHash == _yarpRefusedHash)
            {
                return false;
            }

            return await ApplyAsync(config, errors);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private void TriggerReload()
    {
        // Editors write in several steps; a short pause lets the last one land before the file is read.
        _ = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), _time);
            try
            {
                await ReloadAsync();
            }
            catch (Exception ex)
            {
                Log.ReloadFailed(_logger, ex);
            }
        });
    }

    private void PollForChange()
    {
        if (Stamp() != _lastSeenStamp || DependencyStamp() != _lastDependencyStamp)
        {
            TriggerReload();
        }
    }

    /// <summary>Through symbolic links, so a Kubernetes ConfigMap update is noticed (see <see cref="FileStamp"/>).</summary>
    private (DateTime, long) Stamp() => FileStamp.Of(_options.ProxyConfigPath);

    /// <summary>The stamps of the files the last candidate read, through symbolic links (a Kubernetes Secret's atomic swap).</summary>
    private string DependencyStamp()
    {
        var dependencies = Volatile.Read(ref _dependencies);
        if (dependencies.Length == 0)
        {
            return "";
        }

        var stamp = new System.Text.StringBuilder();
        foreach (var path in dependencies)
        {
            var (writtenAt, length) = FileStamp.Of(path);
            stamp.Append(writtenAt.Ticks).Append(':').Append(length).Append('\n');
        }

        return stamp.ToString();
    }

    /// <summary>The <c>file:</c> references of the section (secrets; a schema's is relative to proxy.json, added by its capability).</summary>
    private string[] DependenciesOf(EdgeSection edge, ReadOnlySpan<byte> edgeJson)
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(edgeJson);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.String && reader.GetString() is { Length: > 5 } value && value.StartsWith("file:", StringComparison.Ordinal))
            {
                // A secret's path is read from the working directory, a schema's from proxy.json's folder: both are watched.
                var path = value[5..];
                paths.Add(path);
                if (!Path.IsPathRooted(path))
                {
                    paths.Add(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(_options.ProxyConfigPath))!, path));
                }
            }
        }

        foreach (var external in _externalContent)
        {
            paths.UnionWith(external.Files(edge));
        }

        return [.. paths];
    }

    private async Task<(EdgeProxyConfig? Config, IReadOnlyList<ConfigError> Errors, string Hash)> LoadCandidateAsync(EdgeProxyConfig? previous)
    {
        var errors = new ConfigErrorList();
        byte[] bytes;
        try
        {
            bytes = await BoundedFile.ReadAllBytesAsync(_options.ProxyConfigPath, BoundedFile.MaxConfigBytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add("proxy.json", BoundedFile.DescribeConfigReadFailure(ex, _options.ProxyConfigPath));
            return (null, errors.Items, "missing");
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        try
        {
            return await BuildCandidateAsync(bytes, hash, previous, errors);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A check that throws instead of reporting (a bug, or input it did not foresee) must still be a refusal the
            // operator sees in lastError, the metric and the audit, with the last good config serving; not a log line
            // on reload and a stack trace at start.
            Log.ValidationThrew(_logger, ex);
            errors.Add("proxy.json", $"the config could not be validated ({ex.GetType().Name}: {ex.Message}); this is a bug in the edge, please report it with the edge's log");
            return (null, errors.Items, hash);
        }
    }

    private async Task<(EdgeProxyConfig? Config, IReadOnlyList<ConfigError> Errors, string Hash)> BuildCandidateAsync(
        byte[] bytes, string hash, EdgeProxyConfig? previous, ConfigErrorList errors)
    {
        var parsed = _reader.Parse(bytes, errors);
        if (parsed is null)
        {
            return (null, errors.Items, hash);
        }

        await _validator.ValidateAsync(parsed, errors);
        var edgeJson = JsonSerializer.SerializeToUtf8Bytes(parsed.Edge, _reader.SerializerOptions);
        // Also for a refused candidate: a secret file it missed, once created, is then applied without touching proxy.json.
        Volatile.Write(ref _dependencies, DependenciesOf(parsed.Edge, edgeJson));
        if (errors.HasErrors)
        {
            return (null, errors.Items, hash);
        }

        // Routes carry a hash of the Edge section, of what its validation read from other files (schemas) and of the
        // values its secret references resolve to, so YARP rebuilds their steps when only a policy or a secret changed.
        using var policyHasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        policyHasher.AppendData(edgeJson);
        SecretValueFingerprint.Append(policyHasher, edgeJson);
        foreach (var external in _externalContent)
        {
            policyHasher.AppendData(System.Text.Encoding.UTF8.GetBytes("\n" + external.Fingerprint(parsed.Edge)));
        }

        var policyHash = Convert.ToHexStringLower(policyHasher.GetHashAndReset())[..16];

        // And of their cluster's destination addresses: YARP rebuilds a route's transforms on a change of its cluster's
        // settings but not of its destinations, and the steps keep a request on the destinations they were built with.
        var destinations = parsed.Clusters.ToDictionary(
            c => c.ClusterId,
            c => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n',
                (c.Destinations ?? new Dictionary<string, Yarp.ReverseProxy.Configuration.DestinationConfig>())
                    .OrderBy(d => d.Key, StringComparer.OrdinalIgnoreCase).Select(d => d.Key + "=" + d.Value.Address)))))[..16],
            StringComparer.OrdinalIgnoreCase);
        var routes = HeadWithGet.Apply([.. parsed.Routes.Select(_validator.ForYarp)]).Select(r => r with
        {
            Metadata = new Dictionary<string, string>(r.Metadata ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase)
            {
                ["EdgePolicyHash"] = policyHash,
                ["EdgeDestinationsHash"] = r.ClusterId is { } cluster && destinations.TryGetValue(cluster, out var hash) ? hash : "",
            },
        }).ToList();

        var config = new EdgeProxyConfig(routes, parsed.Clusters, parsed.Edge, parsed.ContentHash, (previous?.Revision ?? 0) + 1) { PolicyHash = policyHash };
        return (config, errors.Items, hash);
    }

    private async Task<bool> ApplyAsync(EdgeProxyConfig config, IReadOnlyList<ConfigError> warnings)
    {
        var previous = _state.Current;
        var served = _state.Serving;
        var applicable = warnings.Where(w => w.IsWarning).ToList();
        var yarp = _state.Building(config, applicable, _time);

        // Signalling the old token tells YARP to fetch the new snapshot; it rebuilds the routes and their steps, then swaps
        // them (in-flight requests finish on the routes they matched) and reports it to EdgeConfigChangeListener, which
        // makes it the serving config. Only then do /edge/status, /readyz, the log line and the audit event say
        // "applied": not while the old routes, e.g. a removed API key, still serve.
        previous.SignalSuperseded();
        Exception? refused;
        try
        {
            refused = await yarp.WaitAsync(YarpApplyTimeout, _time);
        }
        catch (TimeoutException)
        {
            // Never seen: YARP reports every attempt. Reloads must not stop on it, so the config counts as applied.
            Log.YarpApplyUnconfirmed(_logger, config.RevisionId, YarpApplyTimeout.TotalSeconds);
            _state.Applied(config, applicable, _time.GetUtcNow());
            refused = null;
        }

        if (refused is not null)
        {
            // YARP keeps its routes; what was built for this config is dropped. The next edit signals this config's
            // token, which is the one YARP now listens on.
            Log.YarpRefused(_logger, refused, config.RevisionId);
            _yarpRefusedHash = config.ContentHash;
            Refuse([new ConfigError("ReverseProxy", $"YARP refused the config: {Describe(refused)}")]);
            return false;
        }

        foreach (var warning in applicable)
        {
            Log.ConfigWarning(_logger, _options.ProxyConfigPath, warning.Location, warning.Message);
        }

        Log.ConfigApplied(_logger, config.RevisionId, config.Routes.Count, config.Clusters.Count);
        _metrics.ConfigReload("applied");
        _metrics.SetConfigRevision(config.Revision);
        _metrics.SetConfigLastReloadSuccessful(true);
        foreach (var sink in _events)
        {
            sink.ConfigApplied(config.RevisionId, config.ContentHash, served.Revision == 0 ? null : served.Edge, config.Edge);
        }

        return true;
    }

    private static string Describe(Exception exception) => exception is AggregateException aggregate
        ? string.Join("; ", aggregate.Flatten().InnerExceptions.Select(e => e.Message))
        : exception.Message;

    private void Refuse(IReadOnlyList<ConfigError> errors)
    {
        var list = errors.Where(e => !e.IsWarning).ToList();
        foreach (var error in list)
        {
            Log.ConfigError(_logger, _options.ProxyConfigPath, error.Location, error.Message);
        }

        Log.ConfigRefused(_logger, _options.ProxyConfigPath, list.Count, _state.Serving.RevisionId);
        _state.Refused(list, _time.GetUtcNow());
        _metrics.ConfigReload("refused");
        _metrics.SetConfigLastReloadSuccessful(false);
        foreach (var sink in _events)
        {
            sink.ConfigRefused(list);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1600, LogLevel.Error, "proxy.json {Path} invalid at {Location}: {Message}")]
        public static partial void ConfigError(ILogger logger, string path, string location, string message);

        [LoggerMessage(1601, LogLevel.Warning, "proxy.json {Path} warning at {Location}: {Message}")]
        public static partial void ConfigWarning(ILogger logger, string path, string location, string message);

        [LoggerMessage(1602, LogLevel.Information, "Applied proxy config revision {Revision} with {RouteCount} routes and {ClusterCount} clusters")]
        public static partial void ConfigApplied(ILogger logger, string revision, int routeCount, int clusterCount);

        [LoggerMessage(1603, LogLevel.Error, "Refused edit of proxy.json {Path} ({ErrorCount} errors); still serving revision {Revision}")]
        public static partial void ConfigRefused(ILogger logger, string path, int errorCount, string revision);

        [LoggerMessage(1604, LogLevel.Warning, "Cannot watch {Directory} for changes ({Reason}); falling back to polling")]
        public static partial void WatcherUnavailable(ILogger logger, string directory, string reason);

        [LoggerMessage(1605, LogLevel.Error, "Reloading proxy.json failed unexpectedly")]
        public static partial void ReloadFailed(ILogger logger, Exception exception);

        [LoggerMessage(1606, LogLevel.Warning, "YARP has not reported applying proxy config revision {Revision} within {Seconds} s; counting it as applied")]
        public static partial void YarpApplyUnconfirmed(ILogger logger, string revision, double seconds);

        [LoggerMessage(1607, LogLevel.Error, "YARP refused proxy config revision {Revision}; its routes are unchanged")]
        public static partial void YarpRefused(ILogger logger, Exception exception, string revision);

        [LoggerMessage(1608, LogLevel.Error, "Validating proxy.json threw; the edit is refused")]
        public static partial void ValidationThrew(ILogger logger, Exception exception);

        [LoggerMessage(1609, LogLevel.Information, "proxy.json {Path} is back to the serving revision {Revision}; the refused edit is over")]
        public static partial void RefusalOver(ILogger logger, string path, string revision);
    }
}
