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
            var rule = ThreatRule.TryCreate(name, options, errors);
            if (rule is not null)
            {
                CheckEventsTheKeyCanName(rule, errors);
            }

            if (rule is not null && !BoundToOneClient(rule.Key))
            {
                // One client's events ban everyone whose requests render the key: with {tenant} alone, a whole tenant.
                errors.AddWarning(
                    $"Edge:ThreatProtection:Rules:{name}:Key",
                    "names neither {ip}, {principal} nor a {header:…}: the events of any one client ban every client whose requests render the same key " +
                    "(with {tenant}, a whole tenant, which a client names itself in a header, host or path before it is authenticated); add {ip}, e.g. {tenant}:{ip}");
            }
        }
    }

    /// <summary>
    /// An event is counted only when every part of the key is known, and some parts never are for some events: a rule
    /// that named only such events was accepted and never banned anyone (<c>{principal}</c> on <c>AuthenticationFailed</c>,
    /// the credential-guessing rule an operator writes first). That is an error; one such event beside others a warning.
    /// </summary>
    private static void CheckEventsTheKeyCanName(ThreatRule rule, ConfigErrorList errors)
    {
        var counted = Enum.GetValues<ThreatEvent>().Where(rule.Counts).ToList();
        var never = counted.Select(e => (Event: e, Why: NeverKnown(e, rule.Key))).Where(n => n.Why is not null).ToList();
        if (never.Count == 0)
        {
            return;
        }

        var location = $"Edge:ThreatProtection:Rules:{rule.Name}:Key";
        var reasons = string.Join("; ", never.Select(n => $"{n.Event} is never counted by it ({n.Why})"));
        if (never.Count == counted.Count)
        {
            errors.Add(location, $"'{rule.Key}' is never known for this rule's events, so it would never ban anyone: {reasons}");
        }
        else
        {
            errors.AddWarning(location, $"'{rule.Key}': {reasons}");
        }
    }

    private static string? NeverKnown(ThreatEvent threatEvent, RateLimitKeyTemplate key)
    {
        var principal = key.Segments.Any(s => s.Kind == RateLimitKeyTemplate.SegmentKind.Principal);
        var tenant = key.Segments.Any(s => s.Kind == RateLimitKeyTemplate.SegmentKind.Tenant);
        return threatEvent switch
        {
            ThreatEvent.AuthenticationFailed when principal =>
                "{principal} is the verified principal, and a refused credential verifies none; key credential guessing on {ip}",
            ThreatEvent.NotFound when principal || tenant =>
                "a request no route takes runs no step, so it has no " + (principal ? "{principal}" : "{tenant}") + "; key path scanning on {ip}",
            _ => null,
        };
    }

    // A header may hold what only one client sends (its API key), so a key with one is left to the operator.
    private static bool BoundToOneClient(RateLimitKeyTemplate key) =>
        key.Segments.Any(s => s.Kind is RateLimitKeyTemplate.SegmentKind.Ip or RateLimitKeyTemplate.SegmentKind.Principal or RateLimitKeyTemplate.SegmentKind.Header);
}
