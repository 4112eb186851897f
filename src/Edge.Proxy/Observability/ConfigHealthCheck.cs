using Edge.Proxy.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Edge.Proxy.Observability;

/// <summary>Ready once a valid proxy.json has been applied.</summary>
internal sealed class ConfigHealthCheck(EdgeConfigState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.Loaded
            ? HealthCheckResult.Healthy($"revision {state.Current.RevisionId}")
            : HealthCheckResult.Unhealthy("no valid proxy.json loaded"));
}
