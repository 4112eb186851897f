using System.Security.Claims;

namespace Edge.Configuration.Authorization;

/// <summary>Who a validated credential belongs to, and what its roles allow.</summary>
public sealed record EdgeIdentity
{
    private readonly IReadOnlyList<string> _roles = [];

    public required string Principal { get; init; }

    /// <summary>The tenant the credential is bound to, or null when it names none.</summary>
    public string? Tenant { get; init; }

    /// <summary>Role names from the role claim or the API-key entry (names outside <c>[A-Za-z0-9._:-]</c> are dropped).</summary>
    public required IReadOnlyList<string> Roles
    {
        get => _roles;
        init
        {
            _roles = value;
            JoinedRoles = string.Join(',', value);
        }
    }

    /// <summary>
    /// <see cref="Roles"/> joined with <c>,</c>, as the roles identity header and its signature carry them. Joined once
    /// per identity: a cached token's identity serves many requests.
    /// </summary>
    internal string JoinedRoles { get; private init; } = "";

    public required EdgePermissionSet Permissions { get; init; }

    /// <summary><c>jwt</c> or <c>api-key</c>.</summary>
    public required string Method { get; init; }

    /// <summary>The name of the <c>Edge:Authentication</c> entry that validated the credential.</summary>
    public required string Policy { get; init; }

    public required ClaimsPrincipal User { get; init; }
}
