using System.Net;
using System.Text;
using System.Text.Json;
using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>
/// DELETE /edge/bans/{key} on a real edge with a real redis-server and a clock the test moves: 204 only when a running
/// ban was lifted (and audited), 404 ban_not_found for a ban that has just ended.
/// </summary>
public sealed class BanRemovalTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private RedisServer _redis = null!;
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(_backend.Url, new Dictionary<string, object>
            {
                ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
            }),
            // The local audit file gathers records for Edge:Audit:LocalFlushInterval on the edge's clock, which this
            // test holds still; write each record at once instead.
            new Dictionary<string, string?> { ["Edge:Redis"] = _redis.ConnectionString, ["Edge:Audit:LocalFlushInterval"] = "00:00:00" },
            _clock);
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task AddBan_RedisOutOfMemory_Answers503SayingRedisRefusedIt()
    {
        await AddBanAsync("203.0.113.62", "00:10:00");
        using (var admin = _redis.Connect())
        {
            await admin.GetServers()[0].ConfigSetAsync("maxmemory", "1");
        }

        // Redis answered, refusing the write: the answer said it "cannot be reached", which sends an operator to the network.
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"203.0.113.63\",\"for\":\"00:10:00\"}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, added.StatusCode);
        using var problem = JsonDocument.Parse(await added.Content.ReadAsStringAsync());
        Assert.Equal("ban_store_unavailable", problem.RootElement.GetProperty("code").GetString());
        var detail = problem.RootElement.GetProperty("detail").GetString();
        Assert.Contains("Redis refused the change (OOM command not allowed", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot be reached", detail, StringComparison.Ordinal);
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        Assert.Equal(["203.0.113.62"], list.RootElement.GetProperty("bans").EnumerateArray().Select(b => b.GetProperty("key").GetString()));
    }

    [Fact]
    public async Task DeleteBan_JustEnded_Answers404BanNotFoundAndIsNotAudited()
    {
        await AddBanAsync("203.0.113.60", "00:00:00.500");
        await AddBanAsync("203.0.113.61", "00:10:00");

        // Ended, but less than one reload interval (1 s on this clock) has passed: Redis and the table still hold it.
        _clock.Advance(TimeSpan.FromMilliseconds(500));
        using var ended = await _edge.Management.DeleteAsync("/edge/bans/203.0.113.60");
        using var running = await _edge.Management.DeleteAsync("/edge/bans/203.0.113.61");

        Assert.Equal(HttpStatusCode.NotFound, ended.StatusCode);
        Assert.Equal("application/problem+json", ended.Content.Headers.ContentType?.MediaType);
        using (var problem = JsonDocument.Parse(await ended.Content.ReadAsStringAsync()))
        {
            Assert.Equal("ban_not_found", problem.RootElement.GetProperty("code").GetString());
        }

        Assert.Equal(HttpStatusCode.NoContent, running.StatusCode);
        // Records reach the file in the order they were queued: once the second lift is there, the first would be too.
        var path = Path.Combine(_edge.Directory, "audit-decisions.ndjson");
        var unbanned = await WaitForUnbannedAsync(path, "203.0.113.61");
        Assert.DoesNotContain("203.0.113.60", unbanned);
    }

    private async Task AddBanAsync(string key, string duration)
    {
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent($"{{\"key\":\"{key}\",\"for\":\"{duration}\",\"reason\":\"test\"}}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
    }

    /// <summary>The keys of every unbanned record, once one for <paramref name="expected"/> is in the file.</summary>
    private static async Task<List<string?>> WaitForUnbannedAsync(string path, string expected)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (File.Exists(path))
            {
                var keys = new List<string?>();
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { Length: > 0 } line)
                {
                    using var record = JsonDocument.Parse(line);
                    if (record.RootElement.GetProperty("type").GetString() == Edge.Audit.Records.AuditEventTypes.ThreatUnbanned)
                    {
                        keys.Add(record.RootElement.GetProperty("data").GetProperty("subject").GetProperty("banKey").GetString());
                    }
                }

                if (keys.Contains(expected))
                {
                    return keys;
                }
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException($"no unbanned record for {expected} in {path}");
    }
}
