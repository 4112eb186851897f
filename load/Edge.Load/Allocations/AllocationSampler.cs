using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Edge.Load.Allocations;

/// <summary>
/// Which types a process allocates, from the runtime's own sampling: the <c>GCAllocationTick</c> event fires about
/// every 100 KB allocated and names the type of the allocation that crossed the mark, so the share of samples per
/// type approximates its share of the bytes. Listening allocates too, so a sampled run's byte counts are not reported.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GCAllocationTickEventId = 10;
    private const EventKeywords GCKeyword = (EventKeywords)0x1;

    private readonly ConcurrentDictionary<string, long> _bytesByType = new(StringComparer.Ordinal);
    private volatile bool _recording;

    public void Start()
    {
        _bytesByType.Clear();
        _recording = true;
    }

    /// <summary>Stops recording and returns the sampled bytes per type, largest first.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Stop()
    {
        _recording = false;
        return [.. _bytesByType.OrderByDescending(static p => p.Value)];
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GCKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventId != GCAllocationTickEventId || eventData.Payload is not { } payload || eventData.PayloadNames is not { } names)
        {
            return;
        }

        var type = names.IndexOf("TypeName") is var t and >= 0 ? payload[t] as string ?? "?" : "?";
        var amount = names.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(payload[a], System.Globalization.CultureInfo.InvariantCulture) : 0;
        _bytesByType.AddOrUpdate(type, amount, (_, sum) => sum + amount);
    }
}
