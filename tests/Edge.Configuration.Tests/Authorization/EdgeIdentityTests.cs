using System.Security.Claims;
using Edge.Configuration.Authorization;

namespace Edge.Configuration.Tests.Authorization;

public sealed class EdgeIdentityTests
{
    [Fact]
    public void JoinedRoles_SeveralRoles_CommaSeparatedInOrder()
    {
        var identity = Identity(["Agent", "Viewer", "ops:oncall"]);

        Assert.Equal("Agent,Viewer,ops:oncall", identity.JoinedRoles);
    }

    [Fact]
    public void JoinedRoles_NoRoles_Empty()
    {
        Assert.Equal("", Identity([]).JoinedRoles);
    }

    [Fact]
    public void JoinedRoles_WithNewRoles_FollowsTheCopy()
    {
        var original = Identity(["Agent"]);

        var copy = original with { Roles = ["Viewer", "Admin"] };

        Assert.Equal("Viewer,Admin", copy.JoinedRoles);
        Assert.Equal("Agent", original.JoinedRoles);
    }

    [Fact]
    public void Equals_SameRolesInstance_EqualIdentities()
    {
        string[] roles = ["Agent"];
        var user = new ClaimsPrincipal();
        var permissions = new EdgePermissionResolver(new Dictionary<string, IReadOnlyList<string>>()).Resolve(roles);

        Assert.Equal(Identity(roles, user, permissions), Identity(roles, user, permissions));
    }

    private static EdgeIdentity Identity(IReadOnlyList<string> roles, ClaimsPrincipal? user = null, EdgePermissionSet? permissions = null) => new()
    {
        Principal = "alice",
        Roles = roles,
        Permissions = permissions ?? new EdgePermissionResolver(new Dictionary<string, IReadOnlyList<string>>()).Resolve(roles),
        Method = "jwt",
        Policy = "corp",
        User = user ?? new ClaimsPrincipal(),
    };
}
