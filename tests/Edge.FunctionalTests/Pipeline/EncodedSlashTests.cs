using Edge.FunctionalTests.Hostile;
using Edge.Testing;

namespace Edge.FunctionalTests.Pipeline;

/// <summary>
/// An encoded slash inside a path segment (GitLab-style <c>/projects/group%2Fproject</c>) reaches the backend as the
/// client sent it, also after the route's own path transforms; bare YARP sent <c>%252F</c>. The backend records the
/// request line verbatim.
/// </summary>
public sealed class EncodedSlashTests : IAsyncLifetime
{
    private RawHttpBackend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = RawHttpBackend.Start();
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object>
            {
                ["names"] = ProxyJson.Route("/names/{**rest}"),
                ["rewritten"] = ProxyJson.Route(
                    "/api/{**rest}",
                    new Dictionary<string, string> { ["PathRemovePrefix"] = "/api" },
                    new Dictionary<string, string> { ["PathPrefix"] = "/legacy" }),
            }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Theory]
    [InlineData("/names/group%2Fproject", "/names/group%2Fproject")]
    [InlineData("/names/group%2fproject/issues?path=a%2Fb", "/names/group%2fproject/issues?path=a%2Fb")]
    [InlineData("/names/caf%C3%A9/a%2Fb", "/names/caf%C3%A9/a%2Fb")]
    [InlineData("/api/group%2Fproject/merge_requests", "/legacy/group%2Fproject/merge_requests")]
    [InlineData("/names/plain/path?q=1", "/names/plain/path?q=1")]
    public async Task ProxiedRequest_EncodedSlashInASegment_BackendReceivesItAsSent(string sent, string expected)
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, $"GET {sent} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(expected, Assert.Single(_backend.Received, r => r.Target.StartsWith(expected[..6], StringComparison.Ordinal) && r.Target.EndsWith(expected[^4..], StringComparison.Ordinal)).Target);
    }

    [Fact]
    public async Task ProxiedRequest_EncodedSlashNextToAnEscapedPercent_KeepsYarpsAddress()
    {
        // Kestrel decodes %252F and leaves %2F alike, so which was which cannot be told after the path is decoded: the
        // path is forwarded as YARP builds it, both as %252F.
        var response = await RawHttp.SendAsync(_edge.ProxyPort, "GET /names/ambiguous/a%2Fb%252Fc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal("/names/ambiguous/a%252Fb%252Fc", Assert.Single(_backend.Received, r => r.Target.StartsWith("/names/ambiguous/", StringComparison.Ordinal)).Target);
    }
}
