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
    [InlineData("access_token[]", true)] // PHP, Rack and qs: the access_token parameter, as an array
    [InlineData("access_token[0]", true)]
    [InlineData("access_token[a]", true)]
    [InlineData("access_token[][x]", true)]
    [InlineData("access_token[]junk", true)] // PHP ignores what follows the first ']'
    [InlineData("access.token[]", true)]
    [InlineData("ACCESS TOKEN[1]", true)]
    [InlineData("access_token]", true)] // Rack 2 drops a trailing ']'
    [InlineData("[access_token]", true)] // Rack 2 and qs drop the brackets round a leading name
    [InlineData("]]access_token", true)]
    [InlineData(" access_token", true)] // PHP skips leading spaces
    [InlineData("  access.token[]", true)]
    [InlineData("access_token\0x", true)] // PHP reads a name as a C string: it ends at the NUL
    [InlineData("access-token", false)]
    [InlineData("access[token]", false)] // PHP: $_GET['access']['token']
    [InlineData("access_tokens[]", false)]
    [InlineData("access_token_", false)]
    [InlineData("x[access_token]", false)]
    [InlineData("xaccess_token", false)]
    [InlineData("[]", false)]
    [InlineData("access_tokens", false)]
    [InlineData("token", false)]
    [InlineData("", false)]
    public void IsAccessToken_Name_MatchesWhatBackendsReadAsTheToken(string name, bool expected) =>
        Assert.Equal(expected, QueryCredentials.IsAccessToken(name));

    [Theory]
    [InlineData("access_token=a", true)]
    [InlineData("x=1;access_token=a", true)] // Rack 2, Python before 3.9.2 and Go before 1.17 split on ';' too
    [InlineData("x=1; access_token=a", true)]
    [InlineData("x=1&y=2;z=3", false)]
    [InlineData("note=access_token;x", false)]
    [InlineData("", false)]
    public void Carries_QueryOrFormText_FindsTheTokenUnderEitherSeparator(string text, bool expected) =>
        Assert.Equal(expected, QueryCredentials.Carries(text));
}
