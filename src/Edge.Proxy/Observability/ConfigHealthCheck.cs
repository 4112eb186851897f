using Edge.Proxy.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Edge.Proxy.Observability;

/// <summary>
/// Ready once a valid proxy.json has been applied. A refused edit leaves the edge ready (it serves the last good
/// config, and failing readiness on every instance at once for one bad edit would take the whole fleet out of the load
/// balancer) but Degraded, still answered 200, so a probe reading only /readyz sees that the file on disk is not
/// what is served.
/// </summary>
internal sealed class ConfigHealthCheck(EdgeConfigState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!state.Loaded)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("no valid proxy.json loaded"));
        }

        var outcome = state.Outcome;
        var revision = state.Serving.RevisionId;
        return Task.FromResult(outcome is { LastAttemptRefused: true, LastRefusal: { } refusal }
            ? HealthCheckResult.Degraded(
                $"revision {revision}; the proxy.json on disk was refused at {refusal.At:O} ({refusal.Errors.Count} error(s), see /edge/status) and the last good config keeps serving")
            : HealthCheckResult.Healthy($"revision {revision}"));
    }
}
