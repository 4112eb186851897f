namespace Edge.Configuration.RateLimiting;

/// <summary><c>Edge:RateLimits</c>: named rate-limit policies.</summary>
internal static class RateLimitingSection
{
    public static EdgeSectionDescriptor<IReadOnlyDictionary<string, RateLimitPolicyOptions>> Descriptor { get; } =
        new("RateLimits", new Dictionary<string, RateLimitPolicyOptions>());

    extension(EdgeSection edge)
    {
        public IReadOnlyDictionary<string, RateLimitPolicyOptions> RateLimits => edge.Get(Descriptor);
    }
}
