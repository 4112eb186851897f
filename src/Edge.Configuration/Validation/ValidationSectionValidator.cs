namespace Edge.Configuration.Validation;

/// <summary>
/// Checks every <c>Edge:Validation</c> policy, reading and compiling its schema; the compiled policies are kept for the
/// candidate config so the edge serves exactly what was validated, without reading the schema files again.
/// </summary>
internal sealed class ValidationSectionValidator(ValidationPolicyCache cache, EdgeHostOptions? host = null) : IEdgeSectionValidator
{
    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        var baseDirectory = host is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(Path.GetFullPath(host.ProxyConfigPath))!;
        var policies = new Dictionary<string, ValidationPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, options) in edge.Validation)
        {
            if (ValidationPolicy.TryCreate(name, options, baseDirectory, errors) is { } policy)
            {
                policies[name] = policy;
            }
        }

        cache.Set(edge, policies);
    }
}
