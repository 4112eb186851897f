using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Counts failed authentications per client IP and per (claimed) principal in fixed windows, and signals when one
/// reaches the threshold: the input of later threat detection (blocking, alerting). In-process and bounded.
/// </summary>
internal sealed partial class AuthenticationFailureTracker
{
    public const string IpKind = "ip";
    public const string PrincipalKind = "principal";

    private readonly AuthenticationFailureOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AuthenticationFailureTracker> _logger;
    private readonly ConcurrentDictionary<string, Window> _ips = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Window> _principals = new(StringComparer.Ordinal);

    public AuthenticationFailureTracker(IOptions<AuthenticationFailureOptions> options, TimeProvider time, ILogger<AuthenticationFailureTracker> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public event Action<string>? ThresholdCrossed;

    public int Threshold => _options.Threshold;

    /// <summary>Records one failure; returns the failures so far in the current window of the IP.</summary>
    public int RecordFailure(string? clientIp, string? principal)
    {
        var now = _time.GetTimestamp();
        var ipCount = clientIp is null ? 0 : Count(_ips, IpKind, clientIp, now);
        if (principal is not null)
        {
            Count(_principals, PrincipalKind, principal, now);
        }

        return ipCount;
    }

    /// <summary>Failures in the current window of one IP or principal (0 when unknown or expired).</summary>
    public int Failures(string kind, string key)
    {
        var map = kind == IpKind ? _ips : _principals;
        return map.TryGetValue(key, out var window) ? window.Current(_time.GetTimestamp(), WindowTicks) : 0;
    }

    public long SuspectCount(string kind)
    {
        var map = kind == IpKind ? _ips : _principals;
        var now = _time.GetTimestamp();
        var ticks = WindowTicks;
        long count = 0;
        foreach (var (_, window) in map)
        {
            if (window.Current(now, ticks) >= _options.Threshold)
            {
                count++;
            }
        }

        return count;
    }

    private long WindowTicks => (long)(_options.Window.TotalSeconds * _time.TimestampFrequency);

    private int Count(ConcurrentDictionary<string, Window> map, string kind, string key, long now)
    {
        if (!map.TryGetValue(key, out var window))
        {
            if (map.Count >= _options.MaxTracked)
            {
                Prune(map, now);
                if (map.Count >= _options.MaxTracked)
                {
                    return 0;
                }
            }

            window = map.GetOrAdd(key, _ => new Window(now));
        }

        var count = window.Add(now, WindowTicks);
        if (count == _options.Threshold)
        {
            Log.ThresholdCrossed(_logger, kind, key, count, _options.Window);
            ThresholdCrossed?.Invoke(kind);
        }

        return count;
    }

    private void Prune(ConcurrentDictionary<string, Window> map, long now)
    {
        var ticks = WindowTicks;
        foreach (var (key, window) in map)
        {
            if (window.Current(now, ticks) == 0)
            {
                map.TryRemove(key, out _);
            }
        }
    }

    private sealed class Window(long start)
    {
        private readonly Lock _lock = new();
        private long _start = start;
        private int _count;

        public int Add(long now, long length)
        {
            lock (_lock)
            {
                if (now - _start >= length)
                {
                    _start = now;
                    _count = 0;
                }

                return ++_count;
            }
        }

        public int Current(long now, long length)
        {
            lock (_lock)
            {
                return now - _start >= length ? 0 : _count;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1200, LogLevel.Warning, "Repeated authentication failures: {Kind} {Key} failed {Count} times within {Window}")]
        public static partial void ThresholdCrossed(ILogger logger, string kind, string key, int count, TimeSpan window);
    }
}
