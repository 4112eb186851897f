using System.Collections.Concurrent;
using Edge.Proxy.Pipeline;
using Edge.Proxy.ThreatProtection;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>Keeps the keys of the ban and lift events a <see cref="ThreatMonitor"/> reports, in order, from any thread.</summary>
internal sealed class RecordingThreatSink : IThreatEventSink
{
    public ConcurrentQueue<string> BannedKeys { get; } = new();

    public ConcurrentQueue<string> UnbannedKeys { get; } = new();

    /// <summary>The keys of running bans the table's cap evicted (a lift <c>by</c> <see cref="IThreatEventSink.EvictedBy"/>), also in <see cref="UnbannedKeys"/>.</summary>
    public ConcurrentQueue<string> EvictedKeys { get; } = new();

    public void Banned(string key, string? rule, DateTimeOffset until, string reason, string by, BanSubject? subject) => BannedKeys.Enqueue(key);

    public void Unbanned(string key, string by, BanSubject? subject)
    {
        UnbannedKeys.Enqueue(key);
        if (by == IThreatEventSink.EvictedBy)
        {
            EvictedKeys.Enqueue(key);
        }
    }
}
