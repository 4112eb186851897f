using Edge.Configuration.Authorization;

namespace Edge.Configuration.Tests.Authorization;

public sealed class EdgePermissionResolverTests
{
    private readonly EdgePermissionResolver _resolver = new(new Dictionary<string, IReadOnlyList<string>>
    {
        ["Admin"] = ["*"],
        ["Agent"] = ["orders.read", "orders.write"],
        ["Viewer"] = ["orders.read"],
    });

    [Fact]
    public void Resolve_WildcardRole_GrantsEveryPermission()
    {
        var set = _resolver.Resolve(["Viewer", "Admin"]);

        Assert.True(set.IsAll);
        Assert.True(set.Has("anything.at.all"));
    }

    [Fact]
    public void Resolve_SeveralRoles_UnionOfPermissions()
    {
        var set = _resolver.Resolve(["Viewer", "Agent"]);

        Assert.False(set.IsAll);
        Assert.Equal(["orders.read", "orders.write"], set.Permissions.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("Unknown")]
    [InlineData("admin")]
    public void Resolve_UndefinedOrDifferentCaseRole_GrantsNothing(string role)
    {
        var set = _resolver.Resolve([role]);

        Assert.False(set.Has("orders.read"));
        Assert.Empty(set.Permissions);
    }
}
