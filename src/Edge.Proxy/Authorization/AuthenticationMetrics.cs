using System.Diagnostics.Metrics;
using Edge.Proxy.Observability;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Authentication instruments next to the edge's own. Per-IP and per-principal failure counts are kept by
/// <see cref="AuthenticationFailureTracker"/> rather than as metric labels, which would be unbounded.
/// </summary>
internal sealed class AuthenticationMetrics
{
    private readonly Counter<long> _failures;
    private readonly Counter<long> _thresholdCrossings;

    public AuthenticationMetrics(EdgeMetrics metrics, AuthenticationFailureTracker tracker)
    {
        _failures = metrics.Meter.CreateCounter<long>("edge.auth.failures", description: "Failed authentications by route, policy and precise reason.");
        _thresholdCrossings = metrics.Meter.CreateCounter<long>(
            "edge.auth.failure.threshold.crossings",
            description: "Times a client IP or principal reached the repeated-failure threshold within the window (kind=ip|principal).");
        metrics.Meter.CreateObservableGauge(
            "edge.auth.failure.suspects",
            () => new[]
            {
                new Measurement<long>(tracker.SuspectCount(AuthenticationFailureTracker.IpKind), new KeyValuePair<string, object?>("kind", AuthenticationFailureTracker.IpKind)),
                new Measurement<long>(tracker.SuspectCount(AuthenticationFailureTracker.PrincipalKind), new KeyValuePair<string, object?>("kind", AuthenticationFailureTracker.PrincipalKind)),
            },
            description: "Client IPs and principals at or over the repeated-failure threshold in their current window.");
        metrics.Meter.CreateObservableGauge(
            "edge.auth.failure.threshold",
            () => (long)tracker.Threshold,
            description: "Failed authentications within Edge:AuthFailures:Window that mark a client IP or principal as a suspect.");
        tracker.ThresholdCrossed += kind => _thresholdCrossings.Add(1, new KeyValuePair<string, object?>("kind", kind));
    }

    public void Failure(string route, string policy, string reason) =>
        _failures.Add(1, new("route", route), new("policy", policy), new("reason", reason));
}
