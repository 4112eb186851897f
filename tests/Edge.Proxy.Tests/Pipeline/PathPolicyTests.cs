using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class PathPolicyTests
{
    [Theory]
    [InlineData("/orders/..\\..\\secure\\admin\\x")]
    [InlineData("/orders/..%2F..%2Fsecure%2Fadmin")]
    [InlineData("/orders/..%2f..%2fsecure/admin")]
    [InlineData("/orders/..%5Csecure")]
    [InlineData("/orders/x%2F..")]
    [InlineData("/orders/.\\x")]
    [InlineData("/orders/%2e%2e%2Fsecure")]
    [InlineData("/orders/.%2E%2Fsecure")]
    [InlineData("/orders/..;/secure/admin")]
    [InlineData("/orders/..;jsessionid=1/secure")]
    [InlineData("/orders/.;/x")]
    [InlineData("/orders/x/..;")]
    [InlineData("/orders/..;x\\secure")]
    public void HidesDotSegment_DotSegmentBehindBackslashEncodedSlashOrPathParameter_True(string path) =>
        Assert.True(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/orders/42")]
    [InlineData("/projects/group%2Fproject/issues")]
    [InlineData("/files/a%5Cb")]
    [InlineData("/orders/..x%2Fy")]
    [InlineData("/orders/.well-known%2Fz")]
    [InlineData("/orders/100%25")]
    [InlineData("/app/page;jsessionid=1")]
    [InlineData("/app;v=1/x")]
    [InlineData("/orders/..x;y/z")]
    [InlineData("/orders/;/x")]
    [InlineData("/files/%C0")]
    [InlineData("/files/%C3%A9t%C3%A9")]
    [InlineData("/files/%E0%A4%85")]
    [InlineData("/")]
    [InlineData("")]
    [InlineData(null)]
    public void HidesDotSegment_NamesWithEncodedSlashesOrNoDotSegment_False(string? path) =>
        Assert.False(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/orders/../secure/admin")]
    [InlineData("/orders/./x")]
    [InlineData("/orders/x/..")]
    [InlineData("/..")]
    public void HidesDotSegment_PlainDotSegmentLeftByAnAbsoluteFormTarget_True(string path) =>
        Assert.True(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/keys\0/x")]
    [InlineData("/open/x\0")]
    public void HidesDotSegment_NulLeftByAnAbsoluteFormTarget_True(string path) =>
        Assert.True(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/files/..x/.y/...")]
    [InlineData("/files/report.v1.json")]
    public void HidesDotSegment_NamesStartingWithADot_False(string path) =>
        Assert.False(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/orders/%C0%AE%C0%AE/secure")]
    [InlineData("/orders/%c0%af")]
    [InlineData("/orders/%C1%9C")]
    [InlineData("/orders/%E0%80%AE")]
    [InlineData("/orders/%F0%80%80%AE")]
    public void HidesDotSegment_OverlongUtf8Escape_True(string path) =>
        Assert.True(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/open/a\tb")]
    [InlineData("/admin\n")]
    [InlineData("/admin\r\n/x")]
    [InlineData("/a\u001b/b")]
    [InlineData("/a\u007f")]
    [InlineData("/a\u0085")]
    public void HidesDotSegment_ControlCharacter_True(string path) =>
        Assert.True(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/orders/..\uFF0Fsecure")]
    [InlineData("/orders/\uFF0E\uFF0E/secure")]
    [InlineData("/orders/\u2025/secure")]
    [InlineData("/orders/..\uFF3Csecure")]
    public void HidesDotSegment_DotSegmentInCompatibilityForms_True(string path) =>
        Assert.True(PathPolicy.HidesDotSegment(path));

    [Theory]
    [InlineData("/files/\u00E9t\u00E9")]
    [InlineData("/files/\uFF46ull")]
    [InlineData("/files/a\uFF0Eb")]
    public void HidesDotSegment_NonAsciiNames_False(string path) =>
        Assert.False(PathPolicy.HidesDotSegment(path));
}
