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
    [InlineData("POST", "?_%6Dethod=DELETE")]
    [InlineData("POST", "?_%6d%65%74%68%6f%64=DELETE")]
    [InlineData("POST", "?+_method=DELETE")]
    [InlineData("POST", "?%20%20_method=DELETE")]
    [InlineData("POST", "?x=1;_method=DELETE")]
    [InlineData("POST", "?_method[]=DELETE")]
    [InlineData("POST", "?_method%5B0%5D=DELETE")]
    [InlineData("POST", "?[_method]=DELETE")]
    [InlineData("POST", "?_method%00x=DELETE")]
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
    [InlineData("POST", "?x=1;_method=POST")]
    [InlineData("POST", "?q=a;b")]
    public void Overrides_NoOverrideOrTheSameMethod_False(string method, string query)
    {
        Assert.False(MethodOverrideParameter.Overrides(method, new QueryString(query)));
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded", "name=x&_method=DELETE")]
    [InlineData("Application/X-WWW-Form-URLEncoded; charset=utf-8", "_%6Dethod=delete")]
    [InlineData("application/x-www-form-urlencoded", "a=1&.method=PUT")]
    [InlineData("application/x-www-form-urlencoded", "+_method=DELETE")]
    [InlineData("application/x-www-form-urlencoded", "x=1;_method=DELETE")]
    [InlineData("application/x-www-form-urlencoded", "_method[]=DELETE")]
    public void OverridesInForm_AnotherMethodNamed_True(string contentType, string body)
    {
        Assert.True(MethodOverrideParameter.OverridesInForm("POST", contentType, new EdgeBodyFeature(System.Text.Encoding.UTF8.GetBytes(body))));
    }

    [Fact]
    public void OverridesInForm_DeclaredUtf16Charset_ReadAsBothDecodings()
    {
        // ASP.NET Core decodes with the declared charset, PHP reads the bytes: either reading of the field is refused.
        var utf16 = System.Text.Encoding.Unicode.GetBytes("_method=DELETE");
        var ascii = System.Text.Encoding.ASCII.GetBytes("_method=DELETE");

        Assert.True(MethodOverrideParameter.OverridesInForm("POST", "application/x-www-form-urlencoded; charset=utf-16", new EdgeBodyFeature(utf16)));
        Assert.True(MethodOverrideParameter.OverridesInForm("POST", "application/x-www-form-urlencoded; charset=utf-16", new EdgeBodyFeature(ascii)));
    }

    [Theory]
    [InlineData("name=x&payment_method=card")]
    [InlineData("_method=POST")]
    [InlineData("")]
    public void OverridesInForm_NoOverride_False(string body)
    {
        Assert.False(MethodOverrideParameter.OverridesInForm("POST", "application/x-www-form-urlencoded", new EdgeBodyFeature(System.Text.Encoding.UTF8.GetBytes(body))));
    }
}
