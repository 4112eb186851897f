using System.Diagnostics.Metrics;
using Edge.Proxy.Observability;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Authentication instruments next to the edge's own. Per-IP and per-principal failures are counted by the ban rules
/// (<c>Edge:ThreatProtection</c>, which count every denial at one place) rather than as metric labels, which would be
/// unbounded.
/// </summary>
internal sealed class AuthenticationMetrics
{
    private readonly Counter<long> _failures;

    public AuthenticationMetrics(EdgeMetrics metrics)
    {
        _failures = metrics.Meter.CreateCounter<long>("edge.auth.failures", description: "Failed authentications by route, policy and precise reason.");
    }

    public void Failure(string route, string policy, string reason) =>
        _failures.Add(1, new("route", route), new("policy", policy), new("reason", reason));
}
