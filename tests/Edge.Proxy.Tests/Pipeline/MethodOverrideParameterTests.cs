using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class MethodOverrideParameterTests
{
    [Theory]
    [InlineData("POST", "?_method=DELETE")]
    [InlineData("POST", "?a=1&_method=put")]
    [InlineData("POST", "?%5Fmethod=PATCH")]
    [InlineData("POST", "?_method=%44ELETE")]
    [InlineData("POST", "?.method=DELETE")]
    [InlineData("POST", "?+method=DELETE")]
    [InlineData("POST", "?_method=POST&_method=DELETE")]
    [InlineData("GET", "?_method=DELETE")]
    [InlineData("POST", "?_method=")]
    public void Overrides_AnotherMethodNamed_True(string method, string query)
    {
        Assert.True(MethodOverrideParameter.Overrides(method, new QueryString(query)));
    }

    [Theory]
    [InlineData("POST", "")]
    [InlineData("POST", "?method=DELETE")]
    [InlineData("POST", "?_methods=DELETE")]
    [InlineData("POST", "?payment_method=card")]
    [InlineData("POST", "?_method=post")]
    [InlineData("DELETE", "?_method=DELETE")]
    [InlineData("GET", "?q=_method")]
    public void Overrides_NoOverrideOrTheSameMethod_False(string method, string query)
    {
        Assert.False(MethodOverrideParameter.Overrides(method, new QueryString(query)));
    }
}
