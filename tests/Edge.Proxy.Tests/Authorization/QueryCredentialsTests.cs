using Edge.Proxy.Authorization;

namespace Edge.Proxy.Tests.Authorization;

public sealed class QueryCredentialsTests
{
    [Theory]
    [InlineData("access_token", true)]
    [InlineData("Access_Token", true)]
    [InlineData("access.token", true)]
    [InlineData("access token", true)]
    [InlineData("access[token", true)]
    [InlineData("access-token", false)]
    [InlineData("access_tokens", false)]
    [InlineData("token", false)]
    [InlineData("", false)]
    public void IsAccessToken_Name_MatchesWhatBackendsReadAsTheToken(string name, bool expected) =>
        Assert.Equal(expected, QueryCredentials.IsAccessToken(name));
}
