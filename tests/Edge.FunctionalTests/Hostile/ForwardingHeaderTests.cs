using System.Text.Json;
using WireMock.Types;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A direct client cannot choose what the backend, the audit trail or the per-IP rate limit believe its address is:
/// its forwarding headers are dropped and the edge writes its own. Identity headers are dropped in either spelling.
/// </summary>
public sealed class ForwardingHeaderTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    private const string Spoofs =
        "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n"
        + "X-Forwarded-Prefix: /admin\r\nX_Forwarded_For: 203.0.113.8\r\nX-Real-IP: 203.0.113.9\r\nX_Real_IP: 203.0.113.10\r\n"
        + "Forwarded: for=203.0.113.11;proto=https\r\n";

    [Fact]
    public async Task SpoofedForwardingHeaders_UntrustedClient_ReplacedByEdgeValues()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET /open/fwd HTTP/1.1\r\nHost: shop.example\r\n{Spoofs}Connection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardedHeaders(fixture, "/open/fwd");
        Assert.Equal("127.0.0.1", Single(headers, "X-Forwarded-For"));
        Assert.Equal("http", Single(headers, "X-Forwarded-Proto"));
        Assert.Equal("shop.example", Single(headers, "X-Forwarded-Host"));
        Assert.Equal("127.0.0.1", Single(headers, "X-Real-IP"));
        Assert.DoesNotContain(headers.Keys, k => k.Equals("Forwarded", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(headers.Keys, k => k.Equals("X-Forwarded-Port", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(headers.Keys, k => k.Equals("X-Forwarded-Prefix", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(headers.Keys, k => k.Contains('_', StringComparison.Ordinal));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("127.0.0.1", audit.GetProperty("subject").GetProperty("clientIp").GetString());
    }

    [Fact]
    public async Task OtherClientAddressSchemeAndHostHeaders_UntrustedClient_Stripped()
    {
        // A PHP backend's usual client-IP lookup reads HTTP_CLIENT_IP before REMOTE_ADDR, CDN-aware apps read
        // True-Client-IP, OWA reads Front-End-Https: these were forwarded, so a direct client chose the address an IP
        // allow-list or the backend's log saw, while the edge's audit and rate limit used the connection's.
        string[] names =
        [
            "Client-IP", "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP", "X-Client-IP", "X-Cluster-Client-IP",
            "X-Forwarded", "Forwarded-For", "X-Originating-IP", "X-Remote-IP", "X-Remote-Addr", "X-ProxyUser-Ip",
            "Front-End-Https", "X-Url-Scheme", "X-Host", "X-Original-Host", "Client_IP", "true_client_ip",
        ];
        var spoofs = string.Concat(names.Select(n => $"{n}: {(n.Contains("Https", StringComparison.Ordinal) ? "on" : "10.0.0.1")}\r\n"));
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET /open/client-ip HTTP/1.1\r\nHost: x\r\n{spoofs}X-Client-Note: kept\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardedHeaders(fixture, "/open/client-ip");
        Assert.DoesNotContain(headers.Keys, k => names.Contains(k.Replace('_', '-'), StringComparer.OrdinalIgnoreCase));
        Assert.Equal("kept", Single(headers, "X-Client-Note"));
        Assert.Equal("127.0.0.1", Single(headers, "X-Real-IP"));
    }

    [Fact]
    public async Task WebLogicAndJavaClientAddressHeaders_UntrustedClient_Stripped()
    {
        // WebLogic with its proxy plug-in enabled answers getRemoteAddr() from WL-Proxy-Client-IP and isSecure() from
        // WL-Proxy-SSL, and with client-cert proxying authenticates the certificate in WL-Proxy-Client-Cert; Java's
        // usual client-IP helper reads Proxy-Client-IP, WL-Proxy-Client-IP, HTTP_CLIENT_IP and HTTP_X_FORWARDED_FOR as
        // header names. These were forwarded, so a direct client chose its address, scheme or certificate there.
        string[] names =
        [
            "WL-Proxy-Client-IP", "Proxy-Client-IP", "WL-Proxy-SSL", "WL-Proxy-Client-Cert", "HTTP_CLIENT_IP",
            "HTTP_X_FORWARDED_FOR", "wl_proxy_client_ip",
        ];
        var spoofs = string.Concat(names.Select(n => $"{n}: {(n.EndsWith("SSL", StringComparison.Ordinal) ? "true" : "10.0.0.1")}\r\n"));
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET /open/weblogic HTTP/1.1\r\nHost: x\r\n{spoofs}X-Client-Note: kept\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardedHeaders(fixture, "/open/weblogic");
        Assert.DoesNotContain(headers.Keys, k => names.Any(n => n.Replace('_', '-').Equals(k.Replace('_', '-'), StringComparison.OrdinalIgnoreCase)));
        Assert.Equal("kept", Single(headers, "X-Client-Note"));
        Assert.Equal("127.0.0.1", Single(headers, "X-Real-IP"));
    }

    [Fact]
    public async Task IdentityHeaders_UnderscoreAndMixedSpelling_Stripped()
    {
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            "GET /open/identity HTTP/1.1\r\nHost: x\r\nX_Edge_Tenant: globex\r\nx_edge_roles: Admin\r\nX-Edge_Principal: root\r\nX-Edge-Tenant: initech\r\nX_Custom: kept\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardedHeaders(fixture, "/open/identity");
        Assert.DoesNotContain(headers.Keys, k => k.Replace('_', '-').StartsWith("X-Edge-", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("kept", Single(headers, "X_Custom"));
    }

    [Fact]
    public async Task RequestIdHeader_UnderscoreSpelling_StrippedAndEdgeIdForwarded()
    {
        // X_Request_ID was forwarded next to the edge's X-Request-ID: a PHP, WSGI or Rack backend reads both as
        // HTTP_X_REQUEST_ID, so its logs (and an identity-signature check) could see the client's id, not the audit record's.
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            "GET /open/request-id HTTP/1.1\r\nHost: x\r\nX_Request_ID: 01a23a00000000000000000000000000\r\nx-request_id: forged\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardedHeaders(fixture, "/open/request-id");
        Assert.Equal(response.Header("X-Request-Id"), Single(headers, "X-Request-ID"));
        Assert.DoesNotContain(headers.Keys, k => k.Contains('_', StringComparison.Ordinal));
    }

    [Fact]
    public async Task UrlAndMethodOverrideHeaders_AnySpelling_Stripped()
    {
        // IIS/Symfony route on X-Original-URL, method-override middlewares act on X-HTTP-Method-Override: the backend
        // would serve another route's path or method than the one whose checks the edge ran. They were forwarded.
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            "GET /open/override HTTP/1.1\r\nHost: x\r\nX-Original-URL: /admin/delete\r\nx-rewrite-url: /admin\r\n"
            + "X-Original-URI: /admin/keys\r\nx_envoy_original_path: /admin\r\nX-HTTP-Method-Override: DELETE\r\nX_HTTP_Method: PUT\r\nX-Method-Override: PATCH\r\nX-Override-Note: kept\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardedHeaders(fixture, "/open/override");
        string[] removed = ["X-Original-URL", "X-Rewrite-URL", "X-Original-URI", "X-Envoy-Original-Path", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"];
        Assert.DoesNotContain(headers.Keys, k => removed.Contains(k.Replace('_', '-'), StringComparer.OrdinalIgnoreCase));
        Assert.Equal("kept", Single(headers, "X-Override-Note"));
    }

    [Fact]
    public async Task PerIpRateLimit_SpoofedForwardedFor_StillOneBucketPerConnectionAddress()
    {
        using var first = new HttpRequestMessage(HttpMethod.Get, "/limited/a");
        first.Headers.Add("X-Forwarded-For", "198.51.100.1");
        using var second = new HttpRequestMessage(HttpMethod.Get, "/limited/b");
        second.Headers.Add("X-Forwarded-For", "198.51.100.2");

        using var allowed = await fixture.Edge.Client.SendAsync(first);
        using var limited = await fixture.Edge.Client.SendAsync(second);

        Assert.Equal(200, (int)allowed.StatusCode);
        Assert.Equal(429, (int)limited.StatusCode);
        var audit = await fixture.AuditDataAsync(limited.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal("127.0.0.1", audit.GetProperty("subject").GetProperty("clientIp").GetString());
    }

    [Fact]
    public async Task TraceContext_ClientSentTraceparent_BackendGetsOneContinuingTheClientsTrace()
    {
        const string clientTrace = "0af7651916cd43dd8448eb211c80319c";
        const string clientSpan = "b7ad6b7169203331";
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"GET /open/trace HTTP/1.1\r\nHost: x\r\ntraceparent: 00-{clientTrace}-{clientSpan}-01\r\ntracestate: vendor=1\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardedHeaders(fixture, "/open/trace");
        // One value: the client's header is replaced, not sent beside the edge's.
        var traceparent = Single(headers, "traceparent").Split('-');
        Assert.Equal(["00", clientTrace], traceparent[..2]);
        Assert.Equal(16, traceparent[2].Length);
        Assert.NotEqual(clientSpan, traceparent[2]);
        Assert.Equal("01", traceparent[3]);
        Assert.Equal("vendor=1", Single(headers, "tracestate"));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(clientTrace, audit.GetProperty("traceId").GetString());
    }

    [Fact]
    public async Task TraceContext_NoClientTraceparent_BackendGetsTheAuditRecordsTraceId()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET /open/trace-new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var traceparent = Single(ForwardedHeaders(fixture, "/open/trace-new"), "traceparent").Split('-');
        Assert.Equal(4, traceparent.Length);
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(audit.GetProperty("traceId").GetString(), traceparent[1]);
    }

    internal static Dictionary<string, WireMockList<string>> ForwardedHeaders(HostileEdge edge, string path) =>
        edge.Backend.Received.Last(e => e.RequestMessage?.Path == path).RequestMessage!.Headers!
            .ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);

    internal static string Single(Dictionary<string, WireMockList<string>> headers, string name) =>
        string.Join(", ", headers[name]);
}

/// <summary>Behind a trusted proxy the chain is kept and extended, and the client is the right-most untrusted hop.</summary>
public sealed class TrustedProxyForwardingTests(TrustedProxyEdge fixture) : IClassFixture<TrustedProxyEdge>
{
    [Fact]
    public async Task ForwardedChain_FromTrustedProxy_KeptExtendedAndClientIsRightmostUntrusted()
    {
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            "GET /open/chain HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.99, 203.0.113.50, 10.1.2.3\r\nX-Forwarded-Proto: https\r\n"
            + "X-Forwarded-Host: shop.example\r\nX-Real-IP: 192.0.2.99\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardingHeaderTests.ForwardedHeaders(fixture, "/open/chain");
        Assert.Equal("192.0.2.99, 203.0.113.50, 10.1.2.3, 127.0.0.1", ForwardingHeaderTests.Single(headers, "X-Forwarded-For"));
        Assert.Equal("https", ForwardingHeaderTests.Single(headers, "X-Forwarded-Proto"));
        Assert.Equal("shop.example", ForwardingHeaderTests.Single(headers, "X-Forwarded-Host"));
        Assert.Equal("203.0.113.50", ForwardingHeaderTests.Single(headers, "X-Real-IP"));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("203.0.113.50", audit.GetProperty("subject").GetProperty("clientIp").GetString());
    }

    [Fact]
    public async Task UnderscoreForwardingHeaders_FromTrustedProxy_Stripped()
    {
        // A proxy appends to X-Forwarded-For and passes the rest on: the original client's X_Real_IP reached the backend
        // next to the edge's X-Real-IP, and a PHP, WSGI or Rack backend reads both as HTTP_X_REAL_IP, so the client
        // chose the address it saw while the audit record and the {ip} key used the resolved one.
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            "GET /open/underscore HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.50\r\nX_Real_IP: 192.0.2.66\r\n"
            + "X_Forwarded_For: 192.0.2.67\r\nx_forwarded_proto: https\r\nTrue_Client_IP: 192.0.2.68\r\nX-Forwarded-Port: 8443\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var headers = ForwardingHeaderTests.ForwardedHeaders(fixture, "/open/underscore");
        Assert.DoesNotContain(headers.Keys, k => k.Contains('_', StringComparison.Ordinal));
        Assert.Equal("203.0.113.50, 127.0.0.1", ForwardingHeaderTests.Single(headers, "X-Forwarded-For"));
        Assert.Equal("203.0.113.50", ForwardingHeaderTests.Single(headers, "X-Real-IP"));
        Assert.Equal("http", ForwardingHeaderTests.Single(headers, "X-Forwarded-Proto"));
        Assert.Equal("8443", ForwardingHeaderTests.Single(headers, "X-Forwarded-Port"));
    }

    [Fact]
    public async Task PerIpRateLimit_BehindTrustedProxy_OneBucketPerForwardedClient()
    {
        async Task<int> SendAsync(string client, string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Forwarded-For", client);
            using var response = await fixture.Edge.Client.SendAsync(request);
            return (int)response.StatusCode;
        }

        Assert.Equal(200, await SendAsync("198.51.100.1", "/limited/1"));
        Assert.Equal(200, await SendAsync("198.51.100.2", "/limited/2"));
        Assert.Equal(429, await SendAsync("198.51.100.1", "/limited/3"));
    }
}
