using System.Text;
using Edge.Proxy.Authorization;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Authorization;

public sealed class FormCredentialsTests
{
    private const string Form = "application/x-www-form-urlencoded";

    [Theory]
    [InlineData(Form, "access_token=abc")]
    [InlineData(Form, "a=1&Access_Token=abc")]
    [InlineData(Form, "access%5Ftoken=abc")]
    [InlineData(Form, "%61ccess_token=abc")]
    [InlineData(Form, "access+token=abc")]
    [InlineData(Form, "access[token=abc")]
    [InlineData(Form, "access_token")]
    [InlineData(Form, "access_token%5B%5D=abc")]
    [InlineData(Form, "a=1&access_token[0]=abc")]
    [InlineData(Form, "+access_token=abc")]
    [InlineData("APPLICATION/X-WWW-FORM-URLENCODED;charset=utf-8", "access_token=abc")]
    [InlineData(Form, "\uFEFFaccess_token=abc")]
    public void Carries_AccessTokenField_True(string contentType, string body) =>
        Assert.True(FormCredentials.Carries(contentType, new EdgeBodyFeature(Encoding.UTF8.GetBytes(body))));

    [Theory]
    [InlineData("utf-16")]
    [InlineData("utf-16BE")]
    [InlineData("utf-32")]
    public void Carries_DeclaredWideCharsetWithBom_ReadAsTheBackendDecodesIt(string charset)
    {
        var encoding = Encoding.GetEncoding(charset);
        var body = encoding.GetPreamble().Concat(encoding.GetBytes("access_token=abc")).ToArray();

        Assert.True(FormCredentials.Carries($"{Form}; charset={charset}", new EdgeBodyFeature(body)));
    }

    [Theory]
    [InlineData(Form, "access_tokens=abc&token=1")]
    [InlineData(Form, "note=access_token")]
    [InlineData(Form, "")]
    [InlineData("application/json", "access_token=abc")]
    [InlineData(null, "access_token=abc")]
    [InlineData("multipart/form-data; boundary=x", "access_token=abc")]
    public void Carries_NoAccessTokenFieldOrNotAForm_False(string? contentType, string body) =>
        Assert.False(FormCredentials.Carries(contentType, new EdgeBodyFeature(Encoding.UTF8.GetBytes(body))));
}
