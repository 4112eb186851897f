using System.Net;
using System.Text.Json;
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

    private Task<HttpResponseMessage> SendAsync(string client, string path, string? device) => DeviceRequests.SendAsync(_edge, client, path, device);
}
