using Edge.Configuration;

namespace Edge.Configuration.Authorization;

/// <summary>
/// Reads <c>Edge:Authentication</c> and <c>Edge:Roles</c> from a proxy.json for hosts other than the edge (the audit
/// writer's <c>Writer:ProxyConfigPath</c>), with the same parsing and the same policy and role rules the edge applies.
/// </summary>
public static class EdgeAuthenticationConfiguration
{
    // Only these sections: the rest of the file is the edge's to validate, not this host's.
    private static readonly ProxyJsonReader Reader = ProxyJsonReader.ForSections(AuthorizationSections.Authentication, AuthorizationSections.Roles);

    /// <summary>The file's Edge section; throws <see cref="EdgeConfigException"/> listing every error when it is unusable.</summary>
    public static EdgeSection Load(string proxyJsonPath)
    {
        var errors = new ConfigErrorList();
        EdgeSection? edge = null;
        try
        {
            edge = Reader.Parse(BoundedFile.ReadAllBytes(proxyJsonPath, BoundedFile.MaxConfigBytes), errors)?.Edge;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Worded as the edge words it: "cannot be read: UnauthorizedAccessException" did not say the path is a folder.
            errors.Add("proxy.json", BoundedFile.DescribeConfigReadFailure(ex, proxyJsonPath));
        }

        if (edge is not null)
        {
            new AuthorizationSectionValidator(new EdgeHostOptions()).Validate(edge, errors);
        }

        if (edge is null || errors.HasErrors)
        {
            throw new EdgeConfigException(proxyJsonPath, errors.Errors.ToList());
        }

        return edge;
    }

    /// <summary>A validator for one named entry of the file; throws <see cref="EdgeConfigException"/> when the file or entry is unusable.</summary>
    public static EdgeCredentialValidator CreateValidator(string proxyJsonPath, string policyName) =>
        CreateValidator(proxyJsonPath, policyName, SigningKeyCache.Shared);

    /// <summary>As <see cref="CreateValidator(string, string)"/>, fetching JWT signing keys through <paramref name="keys"/>.</summary>
    public static EdgeCredentialValidator CreateValidator(string proxyJsonPath, string policyName, SigningKeyCache keys)
    {
        var edge = Load(proxyJsonPath);
        if (!edge.Authentication.TryGetValue(policyName, out var policy))
        {
            var defined = edge.Authentication.Keys.Order(StringComparer.Ordinal).ToList();
            throw new EdgeConfigException(proxyJsonPath, [new ConfigError($"Edge:Authentication:{policyName}",
                "no such authentication policy; " + (defined.Count == 0 ? "the file defines none" : "defined: " + string.Join(", ", defined)))]);
        }

        return EdgeCredentialValidator.Create(policyName, policy, new EdgePermissionResolver(edge.Roles), keys);
    }

    /// <summary>
    /// What a host reading only this entry (the audit writer at start, <c>edge config validate --writer</c>) refuses in
    /// the file: the errors <see cref="CreateValidator"/> throws, or none. Routes and the other sections are not read.
    /// </summary>
    public static IReadOnlyList<ConfigError> Check(string proxyJsonPath, string policyName)
    {
        try
        {
            CreateValidator(proxyJsonPath, policyName);
            return [];
        }
        catch (EdgeConfigException ex)
        {
            return ex.Errors;
        }
    }
}
