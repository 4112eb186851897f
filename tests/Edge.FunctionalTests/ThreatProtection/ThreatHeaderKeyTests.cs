using System.Net;
using System.Text.Json;
using Edge.FunctionalTests.Hostile;
using Edge.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>One real edge without Redis and a rule keyed on a header only: a request without that header has no key.</summary>
public sealed class ThreatHeaderKeyTests : IAsyncLifetime
{
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
                },
                new
                {
                    ThreatProtection = new
                    {
                        Rules = new Dictionary<string, object>
                        {
                            ["device-scanning"] = new { On = "NotFound", Key = "{header:X-Device}", Threshold = 3, Window = "00:01:00", BanFor = "00:05:00" },
                        },
                    },
                }),
            new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.1/32" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task HeaderKeyedRule_RefusalsWithoutTheHeader_BanNoOneElse()
    {
        for (var i = 0; i < 4; i++)
        {
            using var probe = await SendAsync("203.0.113.7", "/wp-admin/" + i, device: i % 2 == 0 ? null : "");
            Assert.Equal(HttpStatusCode.NotFound, probe.StatusCode);
        }

        // Another client that does not send the header either: before, both rendered the same key "~none", and the
        // attacker's refusals banned every client without the header.
        using var victim = await SendAsync("198.51.100.9", "/open/1", device: null);

        Assert.Equal(HttpStatusCode.OK, victim.StatusCode);
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        Assert.Empty(list.RootElement.GetProperty("bans").EnumerateArray());
    }

    [Fact]
    public async Task HeaderKeyedRule_RefusalsWithTheHeader_BanThatValueOnly()
    {
        for (var i = 0; i < 3; i++)
        {
            using var probe = await SendAsync("203.0.113.8", "/.env" + i, device: "d-1");
            Assert.Equal(HttpStatusCode.NotFound, probe.StatusCode);
        }

        using var blocked = await SendAsync("198.51.100.10", "/open/1", device: "d-1");
        using var other = await SendAsync("198.51.100.10", "/open/1", device: "d-2");
        using var without = await SendAsync("198.51.100.10", "/open/1", device: null);

        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(HttpStatusCode.OK, without.StatusCode);
    }

    [Theory]
    [InlineData("X-Device: d-9\r\nX-Device: d-3")]
    [InlineData("X-Device: d-9\r\nX_Device: d-3")] // one variable to a CGI-style backend (HTTP_X_DEVICE)
    public async Task HeaderKeyedRule_KeyHeaderSentTwice_400HeaderRepeatedNotForwarded(string devices)
    {
        for (var i = 0; i < 3; i++)
        {
            using var probe = await SendAsync("203.0.113.11", "/.git/" + i, device: "d-3");
            Assert.Equal(HttpStatusCode.NotFound, probe.StatusCode);
        }

        var forwarded = _backend.Received.Count;

        // Before, the rule read the first copy (d-9, not banned) and the banned device was served; a backend reading
        // the last copy, or both, saw d-3.
        var response = await RawHttp.SendAsync(_edge.ProxyPort,
            $"GET /open/twice HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.11\r\n{devices}\r\nConnection: close\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json", response.Header("Content-Type"));
        Assert.Equal("header_repeated", response.ProblemCode());
        Assert.Equal(forwarded, _backend.Received.Count);
    }

    [Fact]
    public async Task HeaderKeyedRule_KeyHeaderSentOnce_ServedAsBefore()
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort,
            "GET /open/once HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.12\r\nX-Device: d-7, d-8\r\nConnection: close\r\n\r\n");

        // One field line with a list in it is one value, forwarded as it is and keyed whole.
        Assert.Equal(200, response.Status);
    }

    private Task<HttpResponseMessage> SendAsync(string client, string path, string? device) => DeviceRequests.SendAsync(_edge, client, path, device);
}
