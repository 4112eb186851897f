using Edge.Configuration.RateLimiting;

namespace Edge.Configuration.ThreatProtection;

/// <summary>Validates every ban rule; <c>edge config validate</c> and a reload report the same errors.</summary>
internal sealed class ThreatProtectionSectionValidator : IEdgeSectionValidator
{
    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        if (edge.ThreatProtection.MaxBans is < 1 or > ThreatProtectionOptions.MaxMaxBans)
        {
            errors.Add("Edge:ThreatProtection:MaxBans", $"must be between 1 and {ThreatProtectionOptions.MaxMaxBans} running bans (was {edge.ThreatProtection.MaxBans})");
        }

        if (edge.ThreatProtection.Rules is not { } rules)
        {
            errors.Add("Edge:ThreatProtection:Rules", "must be an object of named rules");
            return;
        }

        foreach (var (name, options) in rules)
        {
            if (ThreatRule.TryCreate(name, options, errors) is { } rule && !BoundToOneClient(rule.Key))
            {
                // One client's events ban everyone whose requests render the key: with {tenant} alone, a whole tenant.
                errors.AddWarning(
                    $"Edge:ThreatProtection:Rules:{name}:Key",
                    "names neither {ip}, {principal} nor a {header:…}: the events of any one client ban every client whose requests render the same key " +
                    "(with {tenant}, a whole tenant, which a client names itself in a header, host or path before it is authenticated); add {ip}, e.g. {tenant}:{ip}");
            }
        }
    }

    // A header may hold what only one client sends (its API key), so a key with one is left to the operator.
    private static bool BoundToOneClient(RateLimitKeyTemplate key) =>
        key.Segments.Any(s => s.Kind is RateLimitKeyTemplate.SegmentKind.Ip or RateLimitKeyTemplate.SegmentKind.Principal or RateLimitKeyTemplate.SegmentKind.Header);
}
