using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.SessionAffinity;

namespace Edge.Configuration;

/// <summary>
/// A cluster's policy names (load balancing, session affinity, health checks) checked against the policies this host
/// has, as YARP looks them up (any case, the same defaults). YARP's own refusal named an interface at the cluster
/// ("No matching ILoadBalancingPolicy found for the load balancing policy 'RoundRobbin' …") and none of the names it
/// takes; this one is at the setting, with the names.
/// </summary>
public sealed class ClusterPolicyNames(
    IEnumerable<ILoadBalancingPolicy> loadBalancing,
    IEnumerable<ISessionAffinityPolicy> sessionAffinity,
    IEnumerable<IAffinityFailurePolicy> affinityFailure,
    IEnumerable<IActiveHealthCheckPolicy> activeHealthCheck,
    IEnumerable<IPassiveHealthCheckPolicy> passiveHealthCheck,
    IEnumerable<IAvailableDestinationsPolicy> availableDestinations)
{
    private readonly string[] _loadBalancing = Sorted(loadBalancing.Select(static p => p.Name));
    private readonly string[] _sessionAffinity = Sorted(sessionAffinity.Select(static p => p.Name));
    private readonly string[] _affinityFailure = Sorted(affinityFailure.Select(static p => p.Name));
    private readonly string[] _activeHealthCheck = Sorted(activeHealthCheck.Select(static p => p.Name));
    private readonly string[] _passiveHealthCheck = Sorted(passiveHealthCheck.Select(static p => p.Name));
    private readonly string[] _availableDestinations = Sorted(availableDestinations.Select(static p => p.Name));

    /// <summary>The prefix of YARP's message for each of these lookups, which the edge's reports replace.</summary>
    public const string YarpMessagePrefix = "No matching I";

    /// <returns>True when a name was refused (YARP's message for it is then left out).</returns>
    public bool Validate(ClusterConfig cluster, string location, ConfigErrorList errors)
    {
        var refused = Check(cluster.LoadBalancingPolicy, _loadBalancing, location + ":LoadBalancingPolicy", "a load-balancing policy", errors);
        if (cluster.SessionAffinity is { Enabled: true } affinity)
        {
            refused |= Check(affinity.Policy, _sessionAffinity, location + ":SessionAffinity:Policy", "a session affinity policy", errors);
            refused |= Check(affinity.FailurePolicy, _affinityFailure, location + ":SessionAffinity:FailurePolicy", "an affinity failure policy", errors);
        }

        refused |= Check(cluster.HealthCheck?.AvailableDestinationsPolicy, _availableDestinations, location + ":HealthCheck:AvailableDestinationsPolicy", "an available destinations policy", errors);
        if (cluster.HealthCheck?.Active is { Enabled: true } active)
        {
            refused |= Check(active.Policy, _activeHealthCheck, location + ":HealthCheck:Active:Policy", "an active health check policy", errors);
        }

        if (cluster.HealthCheck?.Passive is { Enabled: true } passive)
        {
            refused |= Check(passive.Policy, _passiveHealthCheck, location + ":HealthCheck:Passive:Policy", "a passive health check policy", errors);
        }

        return refused;
    }

    private static bool Check(string? name, string[] known, string location, string what, ConfigErrorList errors)
    {
        // Empty is YARP's default policy, which it always has.
        if (string.IsNullOrEmpty(name) || known.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            return false;
        }

        var hint = ProxyJsonReader.Closest(known, name) is { } closest ? $"; did you mean '{closest}'?" : "";
        errors.Add(location, $"'{name}' is not {what}{hint} (known: {string.Join(", ", known)})");
        return true;
    }

    private static string[] Sorted(IEnumerable<string> names) => [.. names.Order(StringComparer.Ordinal)];
}
