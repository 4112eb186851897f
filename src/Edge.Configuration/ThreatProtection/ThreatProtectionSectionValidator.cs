namespace Edge.Configuration.ThreatProtection;

/// <summary>Validates every ban rule; <c>edge config validate</c> and a reload report the same errors.</summary>
internal sealed class ThreatProtectionSectionValidator : IEdgeSectionValidator
{
    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        if (edge.ThreatProtection.Rules is not { } rules)
        {
            errors.Add("Edge:ThreatProtection:Rules", "must be an object of named rules");
            return;
        }

        foreach (var (name, options) in rules)
        {
            ThreatRule.TryCreate(name, options, errors);
        }
    }
}
