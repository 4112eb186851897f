using System.Net;
using System.Text;
using Edge.FunctionalTests.Hostile;
using Edge.Testing;
using WireMock.Types;

namespace Edge.FunctionalTests.Pipeline;

/// <summary>
/// Who the client is, decided by the connection: one edge without <c>Edge:TrustedProxies</c>, where no header a client
/// sends changes the address the bans, the per-IP rate limit, the audit record and the backend see.
/// </summary>
public sealed class ClientAddressTests : IAsyncLifetime
{
    private const string Spoofed = "203.0.113.7";

    private static readonly string SpoofHeaders =
        $"X-Forwarded-For: {Spoofed}\r\nX-Real-IP: {Spoofed}\r\nTrue-Client-IP: {Spoofed}\r\nForwarded: for={Spoofed}\r\n"
        + $"Forwarded: for=\"[2001:db8::7]:80\"\r\nCF-Connecting-IP: {Spoofed}\r\nFastly-Client-IP: {Spoofed}\r\nX-Client-IP: {Spoofed}\r\n"
        + $"X-Forwarded-For: {Spoofed}, 10.0.0.1\r\nX_Forwarded_For: {Spoofed}\r\n";

    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object>
                {
                    ["open"] = ProxyJson.Route("/open/{**rest}"),
                    ["limited"] = ProxyJson.Route("/limited/{**rest}", new Dictionary<string, string> { ["EdgeRateLimit"] = "one-per-ip" }),
                },
                new { RateLimits = new Dictionary<string, object> { ["one-per-ip"] = new { Limit = 1, Window = "00:10:00", Key = "{ip}" } } }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task BannedAddress_DirectClientNamesItInEveryClientAddressHeader_NotBlockedAndAuditedAsTheConnection()
    {
        await BanAsync(Spoofed);
        await BanAsync("2001:db8::/64");

        var response = await SendAsync("/open/spoof");

        Assert.Equal(200, response.Status);
        var headers = BackendHeaders("/open/spoof");
        Assert.Equal(("127.0.0.1", "127.0.0.1"), (Single(headers, "X-Forwarded-For"), Single(headers, "X-Real-IP")));
        Assert.DoesNotContain(headers.Keys, k => k.Equals("Forwarded", StringComparison.OrdinalIgnoreCase) || k.Contains("Client-IP", StringComparison.OrdinalIgnoreCase));
        var audit = await _edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("127.0.0.1", audit.GetProperty("subject").GetProperty("clientIp").GetString());
    }

    [Fact]
    public async Task BanOfTheConnectionAddressInMappedForm_DirectClientNamesAnother_StillBlocked()
    {
        await BanAsync("::ffff:127.0.0.1");
        try
        {
            var response = await SendAsync("/open/banned");

            Assert.Equal((403, "client_blocked"), (response.Status, response.ProblemCode()));
            Assert.DoesNotContain(_backend.Received, e => e.RequestMessage?.Path == "/open/banned");
        }
        finally
        {
            using var lifted = await _edge.Management.DeleteAsync("/edge/bans/127.0.0.1");
            Assert.Equal(HttpStatusCode.NoContent, lifted.StatusCode);
        }
    }

    [Fact]
    public async Task PerIpRateLimit_EachRequestNamesAnotherClientInAnotherHeader_OneBucketForTheConnection()
    {
        var first = await RawHttp.SendAsync(_edge.ProxyPort, "GET /limited/1 HTTP/1.1\r\nHost: x\r\nTrue-Client-IP: 198.51.100.1\r\nConnection: close\r\n\r\n");
        var second = await RawHttp.SendAsync(_edge.ProxyPort, "GET /limited/2 HTTP/1.1\r\nHost: x\r\nForwarded: for=198.51.100.2\r\nX-Real-IP: 198.51.100.2\r\nCF-Connecting-IP: 198.51.100.2\r\nConnection: close\r\n\r\n");

        Assert.Equal((200, 429), (first.Status, second.Status));
    }

    private async Task BanAsync(string key)
    {
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent($"{{\"key\":\"{key}\",\"for\":\"00:10:00\",\"reason\":\"test\"}}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
    }

    private Task<RawResponse> SendAsync(string path) =>
        RawHttp.SendAsync(_edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: x\r\n{SpoofHeaders}Connection: close\r\n\r\n");

    private Dictionary<string, WireMockList<string>> BackendHeaders(string path) =>
        _backend.Received.Last(e => e.RequestMessage?.Path == path).RequestMessage!.Headers!
            .ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);

    private static string Single(Dictionary<string, WireMockList<string>> headers, string name) => string.Join(", ", headers[name]);
}

/// <summary>
/// Behind <c>Edge:TrustedProxies</c> (the loopback range, which the test client connects from): the client is the
/// right-most <c>X-Forwarded-For</c> hop that is not a trusted proxy, whatever the original client put left of it.
/// </summary>
public sealed class TrustedProxyClientAddressTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.0/8" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task ForwardedHopWithZoneId_FromTrustedProxy_ClientIsTheAddressAndItsBanApplies()
    {
        // The zone names an interface of the proxy's host: the audit record and the backend's X-Real-IP said
        // 2001:db8::5%3, a zone the edge's host may not even have.
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"fe80::1\",\"for\":\"00:10:00\",\"reason\":\"test\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);

        var blocked = await SendAsync("/open/zone-banned", "X-Forwarded-For: 198.51.100.9, fe80::1%ens-not-here\r\n");
        var served = await SendAsync("/open/zone", "X-Forwarded-For: [2001:db8::5%3]:4711\r\n");

        Assert.Equal((403, "client_blocked"), (blocked.Status, blocked.ProblemCode()));
        Assert.Equal(200, served.Status);
        var audit = await _edge.LocalAuditDataAsync(served.Header("X-Request-Id")!);
        Assert.Equal("2001:db8::5", audit.GetProperty("subject").GetProperty("clientIp").GetString());
        Assert.Equal("2001:db8::5", Single(BackendHeaders("/open/zone"), "X-Real-IP"));
    }

    [Fact]
    public async Task ClientPrependedLinesAndEntries_FromTrustedProxy_RightmostUntrustedIsClient()
    {
        // Thousands of entries the original client sent, one more line of its own, then the hop the proxy appended.
        var prepended = string.Join(",", Enumerable.Range(0, 2000).Select(i => $"127.0.{i / 250}.{i % 250 + 1}"));
        var response = await SendAsync(
            "/open/prepended",
            $"X-Forwarded-For: {prepended}\r\nX-Forwarded-For: 203.0.113.66 , unknown,_hidden,  198.51.100.44 ,127.0.0.9\r\n");

        Assert.Equal(200, response.Status);
        var audit = await _edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("198.51.100.44", audit.GetProperty("subject").GetProperty("clientIp").GetString());
        var headers = BackendHeaders("/open/prepended");
        Assert.Equal("198.51.100.44", Single(headers, "X-Real-IP"));
        Assert.EndsWith(", 203.0.113.66 , unknown,_hidden,  198.51.100.44 ,127.0.0.9, 127.0.0.1", Single(headers, "X-Forwarded-For"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrustedProxySendsOnlyForwarded_ClientIsTheProxyAndForwardedPassedOn()
    {
        // As nginx's real_ip and Envoy: X-Forwarded-For names the client, RFC 7239 Forwarded is passed on and never read.
        var response = await SendAsync("/open/rfc7239", "Forwarded: for=198.51.100.45;proto=https, for=\"[2001:db8::9]:80\"\r\n");

        Assert.Equal(200, response.Status);
        var audit = await _edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("127.0.0.1", audit.GetProperty("subject").GetProperty("clientIp").GetString());
        var headers = BackendHeaders("/open/rfc7239");
        Assert.Equal(("127.0.0.1", "127.0.0.1"), (Single(headers, "X-Forwarded-For"), Single(headers, "X-Real-IP")));
        Assert.Equal("for=198.51.100.45;proto=https, for=\"[2001:db8::9]:80\"", Single(headers, "Forwarded"));
    }

    private Task<RawResponse> SendAsync(string path, string headers) =>
        RawHttp.SendAsync(_edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");

    private Dictionary<string, WireMockList<string>> BackendHeaders(string path) =>
        _backend.Received.Last(e => e.RequestMessage?.Path == path).RequestMessage!.Headers!
            .ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);

    private static string Single(Dictionary<string, WireMockList<string>> headers, string name) => string.Join(", ", headers[name]);
}

/// <summary>
/// A dual-stack proxy listener (<c>[::]</c>), where an IPv4 client's connection address is <c>::ffff:127.0.0.1</c>:
/// the IPv4 range in <c>Edge:TrustedProxies</c> and an IPv4 ban still hold it, and the client is recorded as IPv4.
/// </summary>
public sealed class DualStackClientAddressTests : IAsyncLifetime
{
    private readonly int _dualStackPort = FreePort.Next();
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.0/8", ["urls"] = $"http://[::]:{_dualStackPort}" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task MappedConnectionAddress_Ipv4TrustedRangeAndBan_ApplyAndClientRecordedAsIpv4()
    {
        var forwarded = await RawHttp.SendAsync(_dualStackPort, "GET /open/mapped-forwarded HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.61\r\nConnection: close\r\n\r\n");
        var direct = await RawHttp.SendAsync(_dualStackPort, "GET /open/mapped-direct HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"127.0.0.0/8\",\"for\":\"00:10:00\",\"reason\":\"test\"}", Encoding.UTF8, "application/json"));
        var banned = await RawHttp.SendAsync(_dualStackPort, "GET /open/mapped-banned HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal((200, 200, HttpStatusCode.Created), (forwarded.Status, direct.Status, added.StatusCode));
        Assert.Equal((403, "client_blocked"), (banned.Status, banned.ProblemCode()));
        var forwardedAudit = await _edge.LocalAuditDataAsync(forwarded.Header("X-Request-Id")!);
        var directAudit = await _edge.LocalAuditDataAsync(direct.Header("X-Request-Id")!);
        Assert.Equal("198.51.100.61", forwardedAudit.GetProperty("subject").GetProperty("clientIp").GetString());
        Assert.Equal("127.0.0.1", directAudit.GetProperty("subject").GetProperty("clientIp").GetString());
        var headers = _backend.Received.Last(e => e.RequestMessage?.Path == "/open/mapped-forwarded").RequestMessage!.Headers!;
        Assert.Equal("198.51.100.61, 127.0.0.1", string.Join(", ", headers["X-Forwarded-For"]));
        var directHeaders = _backend.Received.Last(e => e.RequestMessage?.Path == "/open/mapped-direct").RequestMessage!.Headers!;
        Assert.Equal("127.0.0.1", string.Join(", ", directHeaders["X-Forwarded-For"]));
    }
}
