namespace Edge.Configuration.Validation;

/// <summary><c>Edge:Validation</c>: named request validation policies.</summary>
internal static class ValidationSection
{
    public static EdgeSectionDescriptor<IReadOnlyDictionary<string, ValidationPolicyOptions>> Descriptor { get; } =
        new("Validation", new Dictionary<string, ValidationPolicyOptions>());

    extension(EdgeSection edge)
    {
        public IReadOnlyDictionary<string, ValidationPolicyOptions> Validation => edge.Get(Descriptor);
    }
}
