using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Diagnostics.Metrics;

namespace Edge.Proxy.Observability;

/// <summary>
/// The edge's own instruments. Exported at /metrics as <c>edge_*</c> series next to the ASP.NET Core, Kestrel and
/// HttpClient (forwarder) meters.
/// </summary>
internal sealed class EdgeMetrics
{
    public const string MeterName = "Edge.Proxy";

    private readonly Counter<long> _stepDecisions;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _configReloads;
    private long _configRevision;
    private long _configLastReloadSuccessful;

    public EdgeMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _stepDecisions = Meter.CreateCounter<long>("edge.step.decisions", description: "Edge step decisions by route, step, decision and reason.");
        _requests = Meter.CreateCounter<long>("edge.requests", description: "Requests on edge routes by route, decision and status class.");
        _configReloads = Meter.CreateCounter<long>("edge.config.reloads", description: "proxy.json load attempts by result (applied, refused).");
        Meter.CreateObservableGauge("edge.config.revision", () => Volatile.Read(ref _configRevision), description: "Revision number of the config being served.");
        Meter.CreateObservableGauge("edge.config.last_reload_successful", () => Volatile.Read(ref _configLastReloadSuccessful),
            description: "1 when the latest read of proxy.json was applied or equals what is served, 0 while the file on disk is refused (the edge serves an older config).");
        // The runtime publishes these two as monotonic counters; ObservabilityExtensions.View drops its copies.
        Meter.CreateObservableGauge("dotnet.thread_pool.threads", static () => (long)ThreadPool.ThreadCount,
            description: "The number of thread pool threads that currently exist.");
        Meter.CreateObservableGauge("dotnet.thread_pool.queue.length", static () => ThreadPool.PendingWorkItemCount,
            description: "The number of work items that are currently queued to be processed by the thread pool.");
    }

    /// <summary>The meter, for capabilities that add their own instruments under the same name.</summary>
    public Meter Meter { get; }

    // As ASP.NET Core's RateLimitingMetrics: no tag is built unless something listens, and the tags live in a TagList
    // (inline storage, no array) in a method of their own.
    public void StepDecision(string route, string step, string decision, string? reason)
    {
        if (_stepDecisions.Enabled)
        {
            StepDecisionCore(route, step, decision, reason);
        }
    }

    public void Request(string route, string decision, int status)
    {
        if (_requests.Enabled)
        {
            RequestCore(route, decision, status);
        }
    }

    public void ConfigReload(string result) => _configReloads.Add(1, new KeyValuePair<string, object?>("result", result));

    public void SetConfigRevision(long revision) => Volatile.Write(ref _configRevision, revision);

    public void SetConfigLastReloadSuccessful(bool successful) => Volatile.Write(ref _configLastReloadSuccessful, successful ? 1 : 0);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StepDecisionCore(string route, string step, string decision, string? reason)
    {
        var tags = new TagList
        {
            { "route", route },
            { "step", step },
            { "decision", decision },
            { "reason", reason ?? "none" },
        };
        _stepDecisions.Add(1, tags);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RequestCore(string route, string decision, int status)
    {
        var tags = new TagList
        {
            { "route", route },
            { "decision", decision },
            { "status_class", StatusClass(status) },
        };
        _requests.Add(1, tags);
    }

    private static string StatusClass(int status) => status switch
    {
        < 200 => "1xx",
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };
}
