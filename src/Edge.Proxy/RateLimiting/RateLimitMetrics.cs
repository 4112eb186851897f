using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Edge.Proxy.Observability;

namespace Edge.Proxy.RateLimiting;

/// <summary>Rate-limit instruments on the edge meter (exported as <c>edge_ratelimit_*</c>).</summary>
internal sealed class RateLimitMetrics
{
    private readonly Counter<long> _decisions;
    private readonly Counter<long> _redisCalls;
    private readonly Counter<long> _breaker;
    private readonly Counter<long> _fallbacks;

    public RateLimitMetrics(EdgeMetrics metrics)
    {
        _decisions = metrics.Meter.CreateCounter<long>("edge.ratelimit.decisions", description: "Rate-limit decisions by policy, outcome, mode and source.");
        _redisCalls = metrics.Meter.CreateCounter<long>("edge.ratelimit.redis.calls", description: "Rate-limit Redis script calls by policy and result (ok, timeout, error, unavailable).");
        _fallbacks = metrics.Meter.CreateCounter<long>("edge.ratelimit.fallbacks", description: "Rate-limit decisions answered by the outage mode, by policy, outage mode and reason.");
        _breaker = metrics.Meter.CreateCounter<long>("edge.ratelimit.breaker.transitions", description: "Rate-limit Redis circuit breaker transitions (open, closed).");
    }

    public void Decision(RateLimitPolicy policy, string mode, in RateLimitDecision decision)
    {
        if (_decisions.Enabled)
        {
            DecisionCore(policy, mode, decision);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DecisionCore(RateLimitPolicy policy, string mode, in RateLimitDecision decision)
    {
        var tags = new TagList
        {
            { "policy", policy.Name },
            { "outcome", decision.Outcome },
            { "mode", mode },
            { "source", SourceTag(decision.Source) },
        };
        _decisions.Add(1, tags);
    }

    // Enum.ToString allocates a string on every call; the names are fixed.
    private static string SourceTag(RateLimitDecisionSource source) => source switch
    {
        RateLimitDecisionSource.InProcess => nameof(RateLimitDecisionSource.InProcess),
        RateLimitDecisionSource.Redis => nameof(RateLimitDecisionSource.Redis),
        RateLimitDecisionSource.Lease => nameof(RateLimitDecisionSource.Lease),
        RateLimitDecisionSource.RefusalCache => nameof(RateLimitDecisionSource.RefusalCache),
        RateLimitDecisionSource.FallbackLocal => nameof(RateLimitDecisionSource.FallbackLocal),
        RateLimitDecisionSource.FallbackOpen => nameof(RateLimitDecisionSource.FallbackOpen),
        RateLimitDecisionSource.FallbackClosed => nameof(RateLimitDecisionSource.FallbackClosed),
        _ => source.ToString(),
    };

    public void Fallback(RateLimitPolicy policy, in RateLimitDecision decision)
    {
        if (_fallbacks.Enabled)
        {
            var tags = new TagList
            {
                { "policy", policy.Name },
                { "mode", policy.OnRedisUnavailable.ToString() },
                { "reason", ReasonTag(decision.FallbackReason) },
            };
            _fallbacks.Add(1, tags);
        }
    }

    public static string ReasonTag(RateLimitFallbackReason reason) => reason switch
    {
        RateLimitFallbackReason.Disconnected => "disconnected",
        RateLimitFallbackReason.BreakerOpen => "breaker_open",
        RateLimitFallbackReason.ConnectionFailed => "connection_failed",
        RateLimitFallbackReason.NoAnswer => "no_answer",
        RateLimitFallbackReason.Overloaded => "overloaded",
        RateLimitFallbackReason.Error => "error",
        _ => "none",
    };

    public void RedisCall(RateLimitPolicy policy, string result)
    {
        if (_redisCalls.Enabled)
        {
            _redisCalls.Add(1, new("policy", policy.Name), new("result", result));
        }
    }

    public void Breaker(string state, string node) => _breaker.Add(1, new("state", state), new("node", node));
}
