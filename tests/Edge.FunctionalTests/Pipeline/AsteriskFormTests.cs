using Edge.FunctionalTests.Hostile;
using Edge.Testing;

namespace Edge.FunctionalTests.Pipeline;

/// <summary>
/// <c>OPTIONS *</c> asks about the server in general, not about a resource. Behind a catch-all route it was forwarded as
/// <c>OPTIONS /</c>, a request for the backend's root the client never sent; like a request no route takes, it is
/// answered 404 <c>not_found</c> and not forwarded.
/// </summary>
public sealed class AsteriskFormTests : IAsyncLifetime
{
    private RawHttpBackend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = RawHttpBackend.Start();
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object> { ["everything"] = ProxyJson.Route("/{**catch-all}") }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task OptionsAsterisk_CatchAllRoute_404NotForwarded()
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(404, response.Status);
        Assert.Equal("not_found", response.ProblemCode());
        Assert.Empty(_backend.Received);
        var id = response.Header("X-Request-Id")!;
        var record = (await Configuration.ConcurrentReloadTests.AuditRecordsAsync(_edge, new HashSet<string> { id }))[id];
        Assert.Equal((404, "deny", "not_found:asterisk_form"),
            (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString(), record.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task OptionsRoot_CatchAllRoute_Forwarded()
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, "OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(("OPTIONS", "/"), Assert.Single(_backend.Received) is var r ? (r.Method, r.Target) : default);
    }
}
