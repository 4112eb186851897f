using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class BackendPathRoutingTests
{
    [Theory]
    [InlineData("/admin;x/users", "/admin/users")]
    [InlineData("/admin;a=1;b=2/users;jsessionid=3", "/admin/users")]
    [InlineData("/app/page;jsessionid=A1", "/app/page")]
    [InlineData("/admin\\users", "/admin/users")]
    [InlineData("/admin%2Fusers%5cx", "/admin/users/x")]
    [InlineData("/admin;x%2Fusers", "/admin/users")]
    [InlineData("/100%25/a%2", "/100%25/a%2")]
    [InlineData("/plain/path", "/plain/path")]
    [InlineData("//admin//users/", "/admin/users/")]
    [InlineData("/admin./users.", "/admin/users")]
    [InlineData("/admin .. /users", "/admin/users")]
    [InlineData("/v1.2/a", "/v1.2/a")]
    [InlineData("/a/.../b", "/a/.../b")]
    [InlineData("/ admin/ users", "/admin/users")]
    [InlineData("/admin\u00a0/x", "/admin/x")]
    [InlineData("/\u3000admin\u2003/x", "/admin/x")]
    [InlineData("/a b/c", "/a b/c")]
    [InlineData("/admin?x/y", "/admin")]
    [InlineData("/admin#x/y", "/admin")]
    [InlineData("/files/what?", "/files/what")]
    [InlineData("/\uFF41dmin/x", "/admin/x")]
    [InlineData("/admin\uFF0Fx", "/admin/x")]
    [InlineData("/\u00E9t\u00E9", "/\u00E9t\u00E9")]
    [InlineData("/adm\u0131n/x", "/admin/x")]
    [InlineData("/ADM\u0130N/x", "/ADMIN/x")]
    [InlineData("/\u212Aeys/\u017Fecrets", "/Keys/secrets")]
    public void AsBackendRoutesIt_ParametersRemovedAndSlashesRead(string path, string expected) =>
        Assert.Equal(expected, BackendPathRouting.AsBackendRoutesIt(path));
}
