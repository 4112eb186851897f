using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Edge.Configuration.Authorization;

/// <summary>
/// Resolves role names to permissions with the <c>Edge:Roles</c> map. Role names and permissions compare ordinally
/// (case-sensitive); a role missing from the map grants nothing.
/// </summary>
public sealed class EdgePermissionResolver
{
    public const string AllPermissions = "*";

    // Callers present few distinct role combinations; resolving (and freezing) each once keeps requests cheap.
    private const int MaxMemoized = 4096;

    private readonly FrozenDictionary<string, FrozenSet<string>> _roles;
    private readonly ConcurrentDictionary<string, EdgePermissionSet> _memo = new(StringComparer.Ordinal);

    public EdgePermissionResolver(IReadOnlyDictionary<string, IReadOnlyList<string>> roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        _roles = roles.ToFrozenDictionary(r => r.Key, r => r.Value.ToFrozenSet(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    public bool IsDefined(string role) => _roles.ContainsKey(role);

    public EdgePermissionSet Resolve(IReadOnlyList<string> roles)
    {
        if (roles.Count == 0)
        {
            return EdgePermissionSet.None;
        }

        // Role names cannot contain ',' (validated), so the joined list identifies the combination.
        var key = roles.Count == 1 ? roles[0] : string.Join(',', roles);
        if (_memo.TryGetValue(key, out var memoized))
        {
            return memoized;
        }

        var set = Compute(roles);
        if (_memo.Count < MaxMemoized && key.Length <= 1024)
        {
            _memo.TryAdd(key, set);
        }

        return set;
    }

    private EdgePermissionSet Compute(IEnumerable<string> roles)
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
