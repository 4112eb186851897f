using Microsoft.Extensions.DependencyInjection;

namespace Edge.Configuration.Authorization;

/// <summary><c>Edge:Authentication</c> (credential policies) and <c>Edge:Roles</c> (role to permissions).</summary>
public static class AuthorizationSections
{
    /// <summary>The reserved <c>EdgeAuthenticate</c> value for routes that admit callers without credentials; no policy may take it.</summary>
    public const string AnonymousPolicy = "Anonymous";

    public static EdgeSectionDescriptor<IReadOnlyDictionary<string, AuthenticationPolicyOptions>> Authentication { get; } =
        new("Authentication", new Dictionary<string, AuthenticationPolicyOptions>());

    public static EdgeSectionDescriptor<IReadOnlyDictionary<string, IReadOnlyList<string>>> Roles { get; } =
        new("Roles", new Dictionary<string, IReadOnlyList<string>>());

    /// <summary>Registers <c>Edge:Authentication</c> and <c>Edge:Roles</c> and their validator.</summary>
    public static IServiceCollection AddEdgeAuthorizationSections(this IServiceCollection services) =>
        services.AddEdgeSection<AuthorizationSectionValidator>(Authentication, Roles);

    extension(EdgeSection edge)
    {
        public IReadOnlyDictionary<string, AuthenticationPolicyOptions> Authentication => edge.Get(AuthorizationSections.Authentication);

        /// <summary>Role name to the permissions it grants; <c>*</c> grants every permission.</summary>
        public IReadOnlyDictionary<string, IReadOnlyList<string>> Roles => edge.Get(AuthorizationSections.Roles);
    }
}
