
namespace Edge.Configuration.RateLimiting;

/// <summary>Validates every <c>Edge:RateLimits</c> policy, whether or not a route uses it yet.</summary>
internal sealed class RateLimitSectionValidator : IEdgeSectionValidator
{
    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        foreach (var (name, options) in edge.RateLimits)
        {
            if (options is null)
            {
                errors.Add($"Edge:RateLimits:{name}", "the policy is null");
                continue;
            }

            RateLimitPolicy.TryCreate(name, options, errors);
        }
    }
}
