using Edge.Configuration;
using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Configuration;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// Starts the ban counters of each rule an applied config names at 0 (<see cref="ThreatMetrics.Declare"/>), so the first
/// scrape after a rule is added already has the series the alerts' increase() needs. A removed rule's series stay: a
/// counter series cannot be withdrawn, and it keeps its last value.
/// </summary>
internal sealed class ThreatRuleSeries(ThreatMetrics metrics) : IConfigEventSink
{
    public void ConfigApplied(string revisionId, string contentHash, EdgeSection? previous, EdgeSection current) =>
        metrics.Declare(current.ThreatProtection.Rules.Keys);

    public void ConfigRefused(IReadOnlyList<ConfigError> errors)
    {
    }
}
