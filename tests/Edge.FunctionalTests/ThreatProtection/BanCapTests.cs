using System.Net;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>
/// <c>Edge:ThreatProtection:MaxBans</c> on one real edge without Redis: parallel refusals under made-up header values
/// fill the table to its cap and no further, without evicting the bans of client addresses; manual bans are never
/// evicted, and one more beyond a table full of them answers 507 <c>ban_table_full</c>.
/// </summary>
public sealed class BanCapTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") },
                new
                {
                    ThreatProtection = new
                    {
                        MaxBans = 5,
                        Rules = new Dictionary<string, object>
                        {
                            ["scan-ip"] = new { On = "NotFound", Key = "{ip}", Threshold = 2, Window = "00:10:00", BanFor = "00:05:00" },
                            ["scan-device"] = new { On = "NotFound", Key = "{header:X-Device}", Threshold = 1, Window = "00:10:00", BanFor = "00:05:00" },
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
    public async Task Bans_ParallelFloodOfHeaderKeysThenManualBans_TableHoldsTheCapAddressBansStayAndTheSixthManualBanIs507()
    {
        foreach (var address in (string[])["203.0.113.1", "203.0.113.2"])
        {
            for (var i = 0; i < 2; i++)
            {
                using var probe = await SendAsync(address, "/.env", device: null);
                Assert.Equal(HttpStatusCode.NotFound, probe.StatusCode);
            }
        }

        // 60 refusals, 6 at a time, each from a new address (counted once: no address ban) with a new device value.
        for (var batch = 0; batch < 10; batch++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => SendAsync($"198.51.100.{(batch * 6) + i}", "/wp-admin/", device: $"d-{batch}-{i}")));
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        var bans = await BanKeysAsync();
        Assert.Equal(5, bans.Count);
        Assert.Contains("203.0.113.1", bans);
        Assert.Contains("203.0.113.2", bans);
        using (var blocked = await SendAsync("203.0.113.1", "/open/1", device: null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        }

        var metrics = await _edge.Management.GetStringAsync("/metrics");
        Assert.Matches("edge_threat_bans_evicted_total\\{[^}]*rule=\"scan-device\"[^}]*\\} 57", metrics);
        Assert.Contains("\nedge_threat_bans_active{", metrics, StringComparison.Ordinal);
        // This edge's own gauge: /metrics shows one series for every edge of the test process.
        Assert.Equal(5, _edge.ReadOwnGauge("edge.threat.bans.active"));

        // Manual bans evict rule bans, lowest rank first (the three header bans, then both addresses), never each other.
        for (var i = 0; i < 5; i++)
        {
            using var added = await AddBanAsync("192.0.2." + i);
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        }

        using var full = await AddBanAsync("192.0.2.9");

        Assert.Equal(HttpStatusCode.InsufficientStorage, full.StatusCode);
        Assert.Equal("application/problem+json", full.Content.Headers.ContentType?.MediaType);
        using (var problem = JsonDocument.Parse(await full.Content.ReadAsStringAsync()))
        {
            Assert.Equal("ban_table_full", problem.RootElement.GetProperty("code").GetString());
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => "192.0.2." + i), (await BanKeysAsync()).Order());
        using (var unblocked = await SendAsync("203.0.113.1", "/open/1", device: null))
        {
            Assert.Equal(HttpStatusCode.OK, unblocked.StatusCode);
        }

        // The eviction of an address's ban is a lift by the cap, in the audit trail.
        var evicted = await _edge.LocalAuditDataWhereAsync(data =>
            data.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String && reason.GetString() == "evicted"
            && data.GetProperty("attributes").GetProperty("by").GetString() == "cap"
            && data.TryGetProperty("subject", out var subject) && subject.TryGetProperty("banKey", out var key) && key.GetString() == "203.0.113.1");
        Assert.Equal("unbanned", evicted.GetProperty("decision").GetString());
    }

    private async Task<List<string>> BanKeysAsync()
    {
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        return [.. list.RootElement.GetProperty("bans").EnumerateArray().Select(b => b.GetProperty("key").GetString()!)];
    }

    private Task<HttpResponseMessage> AddBanAsync(string key) =>
        _edge.Management.PostAsync("/edge/bans", new StringContent($"{{\"key\":\"{key}\",\"for\":\"00:10:00\",\"reason\":\"incident\"}}", Encoding.UTF8, "application/json"));

    private Task<HttpResponseMessage> SendAsync(string client, string path, string? device) => DeviceRequests.SendAsync(_edge, client, path, device);
}
