using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Auditing;

/// <summary>
/// The audit spool on /readyz: Degraded (still 200) while audit-required routes answer 503 <c>audit_unavailable</c>
/// because the spool cannot be written or is at its cap. Not Unhealthy: the spool tries again only when a request
/// comes (one a second), and a cap reached because the writer is down is reached on every edge at once, where failing
/// readiness would take the optional routes of the whole fleet out of the load balancer too.
/// </summary>
internal sealed class AuditSpoolHealthCheck(IServiceProvider services, IOptions<EdgeAuditOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(options.Value.WriterUrl))
        {
            return Task.FromResult(Embedded(options.Value));
        }

        var spool = services.GetRequiredService<SpoolAuditSink>().Spool;
        if (spool.WriteFailure is { } failure)
        {
            return Task.FromResult(HealthCheckResult.Degraded(
                $"the audit spool cannot be written since {failure.At:O} ({failure.Message}); audit-required routes answer 503 audit_unavailable until a write works again (tried once a second)"));
        }

        return Task.FromResult(spool.IsUnderCap(SpoolAuditSink.AdmissionReserve)
            ? HealthCheckResult.Healthy("audit spool writable")
            : HealthCheckResult.Degraded(
                $"the audit spool is at its cap ({spool.Metrics.Bytes} of {spool.MaxBytes} bytes, writer not acknowledging); audit-required routes answer 503 audit_unavailable"));
    }

    /// <summary>
    /// Without a writer: where the records go. It said "the local file" whatever happened, also while every write to that
    /// file failed (event 1512) or with no file at all, so a probe read an audit trail that was not being written.
    /// </summary>
    private HealthCheckResult Embedded(EdgeAuditOptions audit)
    {
        if (string.IsNullOrEmpty(audit.LocalFile))
        {
            return HealthCheckResult.Healthy("no audit writer and Edge:Audit:LocalFile empty: records are only logged, at Debug (event 1500)");
        }

        var file = services.GetRequiredService<LocalFileAuditSink>();
        return file.WriteFailing
            ? HealthCheckResult.Degraded(
                $"no audit writer configured; writing the local audit file {file.FilePath} fails (event 1512): records wait in the queue, retried every second, and beyond its capacity are dropped")
            : HealthCheckResult.Healthy($"no audit writer configured; records go to the local file {file.FilePath}");
    }
}
