using System.Collections.Frozen;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Resolves role names to permissions with the <c>Edge:Roles</c> map. Role names and permissions compare ordinally
/// (case-sensitive); a role missing from the map grants nothing.
/// </summary>
public sealed class EdgePermissionResolver
{
    public const string AllPermissions = "*";

    private readonly FrozenDictionary<string, FrozenSet<string>> _roles;

    public EdgePermissionResolver(IReadOnlyDictionary<string, IReadOnlyList<string>> roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        _roles = roles.ToFrozenDictionary(r => r.Key, r => r.Value.ToFrozenSet(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    public bool IsDefined(string role) => _roles.ContainsKey(role);

    public EdgePermissionSet Resolve(IEnumerable<string> roles)
    {
        HashSet<string>? granted = null;
        foreach (var role in roles)
        {
            if (!_roles.TryGetValue(role, out var permissions))
            {
                continue;
            }

            if (permissions.Contains(AllPermissions))
            {
                return new EdgePermissionSet(true, FrozenSet<string>.Empty);
            }

            (granted ??= new HashSet<string>(StringComparer.Ordinal)).UnionWith(permissions);
        }

        return granted is null ? EdgePermissionSet.None : new EdgePermissionSet(false, granted.ToFrozenSet(StringComparer.Ordinal));
    }
}
