using System.Security.Claims;
using Edge.Configuration.Authorization;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// What the route's <c>EdgeAuthenticate</c> step established. Implemented by Authorization; read by tenancy's
/// <c>Claim</c> source, rate limiting (<c>{principal}</c>) and the audit record.
/// </summary>
internal interface IEdgeIdentityFeature
{
    /// <summary>The authentication method (<c>jwt</c>, <c>api-key</c>, <c>anonymous</c>), also set when a credential was refused.</summary>
    string Method { get; }

    /// <summary>The verified identity; null when anonymous or when the credential was refused.</summary>
    EdgeIdentity? Identity { get; }

    string? Principal => Identity?.Principal;

    ClaimsPrincipal? User => Identity?.User;
}
