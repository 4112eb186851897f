using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class HeaderNameTests
{
    [Theory]
    [InlineData("X-Edge-Tenant", true)]
    [InlineData("X_Edge_Tenant", true)]
    [InlineData("x_edge-roles", true)]
    [InlineData("X-Edge_", true)]
    [InlineData("X-Edged", false)]
    [InlineData("X-Edg", false)]
    [InlineData("XX-Edge-Tenant", false)]
    public void StartsWith_UnderscoreOrDashAnyCase_MatchesIdentityPrefix(string name, bool expected) =>
        Assert.Equal(expected, HeaderName.StartsWith(name, "X-Edge-"));

    [Theory]
    [InlineData("X_Forwarded_For", true)]
    [InlineData("x-real_ip", true)]
    [InlineData("Forwarded", true)]
    [InlineData("X-Forwarded", true)]
    [InlineData("X-Forwardedx", false)]
    [InlineData("client_ip", true)]
    [InlineData("True-Client-IP", true)]
    [InlineData("X-Client-Note", false)]
    [InlineData("X-Request-Id", false)]
    public void IsForwardingHeader_EitherSpelling_Recognised(string name, bool expected) =>
        Assert.Equal(expected, ForwardingHeaders.IsForwardingHeader(name));
}
