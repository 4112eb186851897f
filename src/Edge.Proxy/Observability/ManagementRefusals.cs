using System.Diagnostics.Metrics;

namespace Edge.Proxy.Observability;

/// <summary>
/// Counts every refusal of the management listener (<c>edge_management_refusals_total{reason}</c>) and logs at most one
/// Warning per reason in <see cref="LogInterval"/>, saying how many went unlogged since the previous line. A scanner or a
/// DNS-rebinding page can send thousands of refused requests; a line for each would flood the log the operator reads,
/// and the counter is what an alert should watch.
/// </summary>
internal sealed class ManagementRefusals
{
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private readonly Counter<long> _refusals;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogWindow _hostLog = new(LogInterval);
    private readonly LogWindow _tokenLog = new(LogInterval);

    public ManagementRefusals(EdgeMetrics metrics, TimeProvider time, ILogger<ManagementAccess> logger)
    {
        _refusals = metrics.Meter.CreateCounter<long>("edge.management.refusals",
            description: "Requests the management listener refused, by reason (its problem code).");
        _time = time;
        _logger = logger;
    }

    public void HostRefused(string host, string? clientIp)
    {
        Count(ManagementAccess.HostNotAllowedCode);
        if (_hostLog.TryTake(_time, out var unlogged))
        {
            ManagementAccess.Log.HostRefused(_logger, ManagementAccess.Printable(host), clientIp, unlogged);
        }
    }

    /// <summary>A request without a token is counted, not logged: a probe that forgot it is not an attack.</summary>
    public void TokenMissing() => Count(ManagementAccess.TokenRequiredCode);

    public void TokenRefused(string? clientIp)
    {
        Count(ManagementAccess.TokenInvalidCode);
        if (_tokenLog.TryTake(_time, out var unlogged))
        {
            ManagementAccess.Log.TokenRefused(_logger, clientIp, unlogged);
        }
    }

    private void Count(string reason) => _refusals.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
