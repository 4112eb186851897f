using System.Collections.Frozen;

namespace Edge.Configuration.Authorization;

/// <summary>The permissions a set of roles grants; <see cref="IsAll"/> when a role grants <c>*</c>.</summary>
public sealed class EdgePermissionSet
{
    public static EdgePermissionSet None { get; } = new(false, FrozenSet<string>.Empty);

    internal EdgePermissionSet(bool isAll, FrozenSet<string> permissions)
    {
        IsAll = isAll;
        Permissions = permissions;
    }

    public bool IsAll { get; }

    /// <summary>The explicitly granted permissions (empty meaning nothing unless <see cref="IsAll"/>).</summary>
    public IReadOnlySet<string> Permissions { get; }

    public bool Has(string permission) => IsAll || Permissions.Contains(permission);
}
