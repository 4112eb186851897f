using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Proxy.RateLimiting;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// proxy.json edited the ways a platform team's tools write it (in place, cut short, in two chunks, deleted and
/// written again, ten times in a second) while 8 clients send: traffic never notices a broken edit, and the last file
/// written is what serves.
/// </summary>
public sealed class ReloadUnderLoadTests
{
    private const int Clients = 8;

    [Fact]
    public async Task Reload_BrokenEditsWrittenInPlaceUnderLoad_LastGoodServesErrorsLoggedAndTheNextGoodEditApplies()
    {
        using var backend = Backend.Start();
        var log = LogFile.NewPath();
        try
        {
            await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "v1", limit: 1_000_000), LogFile.Settings(log));
            var responses = new ConcurrentBag<(HttpStatusCode Status, string? Code)>();
            using var cancel = new CancellationTokenSource();
            var load = StartLoad(edge, responses, cancel.Token);

            // Invalid JSON, written in place (no rename).
            await File.WriteAllTextAsync(edge.ConfigPath, "{ \"ReverseProxy\": { \"Routes\": { ,, } } }");
            var refusal = await WaitForRefusalAsync(edge, "ReverseProxy:Routes");
            Assert.Contains("(line 1, byte 33)", refusal, StringComparison.Ordinal);

            // Truncated to zero bytes in place.
            await using (new FileStream(edge.ConfigPath, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
            {
            }

            await WaitForRefusalAsync(edge, "proxy.json", previous: refusal);

            // Valid JSON whose Edge section is not.
            await File.WriteAllTextAsync(edge.ConfigPath, Config(backend.Url, "v1", limit: -5));
            await WaitForRefusalAsync(edge, "Edge:RateLimits:p:Limit");

            // Deleted, then written again.
            File.Delete(edge.ConfigPath);
            await WaitForRefusalAsync(edge, "proxy.json", previous: "Edge:RateLimits:p:Limit");
            await File.WriteAllTextAsync(edge.ConfigPath, Config(backend.Url, "v2", limit: 1_000_000));
            await ConcurrentReloadTests.WaitForRevisionAsync(edge, 2);

            // A writer that writes in two chunks with a pause between them: the first half is refused, the whole file applies.
            var next = Encoding.UTF8.GetBytes(Config(backend.Url, "v3", limit: 1_000_000));
            await using (var stream = new FileStream(edge.ConfigPath, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
            {
                await stream.WriteAsync(next.AsMemory(0, next.Length / 2));
                await stream.FlushAsync();
                await WaitForRefusalAsync(edge, "proxy.json", previous: null, since: 2);
                await stream.WriteAsync(next.AsMemory(next.Length / 2));
            }

            await ConcurrentReloadTests.WaitForRevisionAsync(edge, 3);
            Assert.Equal("v3", await TenantSeenAsync(edge, backend));

            await cancel.CancelAsync();
            await Task.WhenAll(load);
            var all = responses.ToList();
            Assert.NotEmpty(all);
            Assert.All(all, r => Assert.True(r.Status == HttpStatusCode.OK, $"{(int)r.Status} {r.Code}"));

            var lines = await LogFile.ReadLinesAsync(log);
            Assert.Contains(lines, l => l.Contains(edge.ConfigPath, StringComparison.Ordinal) && l.Contains("|Error|", StringComparison.Ordinal) && l.Contains("line", StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public async Task Reload_TenEditsWithinASecondUnderLoad_TheLastFileServesAndNoLimiterIsLeft()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "t0", limit: 1_000_000, policy: "p0"));
        var responses = new ConcurrentBag<(HttpStatusCode Status, string? Code)>();
        using var cancel = new CancellationTokenSource();
        var load = StartLoad(edge, responses, cancel.Token);

        var last = "";
        for (var i = 1; i <= 10; i++)
        {
            last = Config(backend.Url, $"t{i}", limit: 1_000_000 + i, policy: $"p{i}");
            await File.WriteAllTextAsync(edge.ConfigPath, last);
            await Task.Delay(90);
        }

        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(last)));
        await RateLimiting.RateLimitRoutes.WaitUntilAsync(
            async () => JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status")).RootElement.GetProperty("contentHash").GetString(),
            hash => hash == expected, "the last file serving");
        // A second more, for any reload still queued to land after it.
        await Task.Delay(1000);
        using (var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status")))
        {
            Assert.Equal(expected, status.RootElement.GetProperty("contentHash").GetString());
            Assert.Equal("ok", status.RootElement.GetProperty("state").GetString());
        }

        Assert.Equal("t10", await TenantSeenAsync(edge, backend));
        await cancel.CancelAsync();
        await Task.WhenAll(load);
        Assert.All(responses, r => Assert.True(r.Status == HttpStatusCode.OK, $"{(int)r.Status} {r.Code}"));

        // Each edit named a new policy: only the one the last file names keeps a limiter (and its buckets).
        var registry = edge.Services.GetRequiredService<RateLimiterRegistry>();
        await RateLimiting.RateLimitRoutes.WaitUntilAsync(() => Task.FromResult(registry.Count), count => count == 1, "one limiter left");
    }

    [Fact]
    public async Task Reload_AuthenticateStepAddedAndRemovedUnderLoad_EveryRequestDecidedByOneConfigAndAuditedAsAnswered()
    {
        // The route gains and loses an EdgeAuthenticate step (and its rate-limit policy changes) four times each way while
        // clients without a key send: each answer is the old config's (200) or the new one's (401), never a 5xx, and
        // each audit record names the route and the step that decided.
        using var backend = Backend.Start();
        string Config(bool authenticate, int limit) => ProxyJson.Create(
            backend.Url,
            new Dictionary<string, object>
            {
                ["r"] = ProxyJson.Route("/r/{**rest}", authenticate
                    ? [Tenant("acme"), new Dictionary<string, string> { ["EdgeAuthenticate"] = "keys" }, new Dictionary<string, string> { ["EdgeRateLimit"] = "p" }]
                    : [Tenant("acme"), new Dictionary<string, string> { ["EdgeRateLimit"] = "p" }]),
            },
            new
            {
                RateLimits = new Dictionary<string, object> { ["p"] = new { Limit = limit, Window = "00:01:00" } },
                Authentication = new Dictionary<string, object>
                {
                    ["keys"] = new
                    {
                        Type = "ApiKey",
                        Header = "X-Api-Key",
                        Keys = new object[] { new { Sha256 = Convert.ToHexStringLower(SHA256.HashData("reload-test-key-0001"u8)), Principal = "p1", Tenant = "acme" } },
                    },
                },
            });

        await using var edge = await EdgeHost.StartAsync(Config(authenticate: false, limit: 1_000_000));
        var responses = new ConcurrentBag<(HttpStatusCode Status, string? Code, string RequestId)>();
        using var cancel = new CancellationTokenSource();
        var load = Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var n = 0;
            while (!cancel.IsCancellationRequested || n++ < 2)
            {
                using var response = await client.GetAsync("/r/x", CancellationToken.None);
                string? code = null;
                if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
                {
                    using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(CancellationToken.None));
                    code = problem.RootElement.GetProperty("code").GetString();
                }

                responses.Add((response.StatusCode, code, Assert.Single(response.Headers.GetValues("X-Request-Id"))));
            }
        })).ToList();

        for (var revision = 2; revision <= 9; revision++)
        {
            await edge.WriteConfigAsync(Config(authenticate: revision % 2 == 0, limit: 1_000_000 - revision));
            await ConcurrentReloadTests.WaitForRevisionAsync(edge, revision);
            await Task.Delay(100);
        }

        await cancel.CancelAsync();
        await Task.WhenAll(load);
        var all = responses.ToList();
        Assert.All(all, r => Assert.True(
            r.Status == HttpStatusCode.OK || (r.Status == HttpStatusCode.Unauthorized && r.Code == "authentication_required"), $"{(int)r.Status} {r.Code}"));
        Assert.Contains(all, r => r.Status == HttpStatusCode.OK);
        Assert.Contains(all, r => r.Status == HttpStatusCode.Unauthorized);

        var records = await ConcurrentReloadTests.AuditRecordsAsync(edge, all.Select(r => r.RequestId).ToHashSet());
        Assert.Equal(all.Count, records.Count);
        Assert.All(all, r =>
        {
            var record = records[r.RequestId];
            Assert.Equal((int)r.Status, record.GetProperty("status").GetInt32());
            Assert.Equal("r", record.GetProperty("route").GetString());
            Assert.Equal(r.Status == HttpStatusCode.OK ? "allow" : "deny", record.GetProperty("decision").GetString());
            if (r.Status == HttpStatusCode.Unauthorized)
            {
                Assert.Equal("EdgeAuthenticate", record.GetProperty("step").GetString());
            }
        });

        // Only requests the edge let through reached the backend.
        var allowed = all.Where(r => r.Status == HttpStatusCode.OK).Select(r => r.RequestId).ToHashSet();
        Assert.All(backend.Received, e => Assert.Contains(
            e.RequestMessage!.Headers!.First(h => string.Equals(h.Key, "X-Request-Id", StringComparison.OrdinalIgnoreCase)).Value[0], allowed));
    }

    private static Dictionary<string, string> Tenant(string value) => new() { ["EdgeTenant"] = "Static", ["Value"] = value };

    private static List<Task> StartLoad(EdgeHost edge, ConcurrentBag<(HttpStatusCode Status, string? Code)> responses, CancellationToken stop) =>
        Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            while (!stop.IsCancellationRequested)
            {
                using var response = await client.GetAsync("/r/x", CancellationToken.None);
                string? code = null;
                if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
                {
                    using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(CancellationToken.None));
                    code = problem.RootElement.GetProperty("code").GetString();
                }

                responses.Add((response.StatusCode, code));
            }
        })).ToList();

    private static async Task<string> TenantSeenAsync(EdgeHost edge, Backend backend)
    {
        using var response = await edge.Client.GetAsync("/r/last");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        foreach (var entry in backend.Received)
        {
            var headers = entry.RequestMessage!.Headers!.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
            if (headers.GetValueOrDefault("X-Request-Id") == id)
            {
                return headers["X-Edge-Tenant"];
            }
        }

        throw new InvalidOperationException($"the backend did not receive {id}");
    }

    /// <summary>Waits until /edge/status shows a refusal whose first error is at <paramref name="location"/> and differs from <paramref name="previous"/>.</summary>
    private static async Task<string> WaitForRefusalAsync(EdgeHost edge, string location, string? previous = null, int? since = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var seen = "";
        while (DateTime.UtcNow < deadline)
        {
            using var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status"));
            var root = status.RootElement;
            if (root.GetProperty("state").GetString() == "refused-keeping-last-good"
                && root.GetProperty("lastError").GetProperty("errors")[0] is var first)
            {
                seen = first.GetProperty("location").GetString() + ": " + first.GetProperty("message").GetString();
                if (first.GetProperty("location").GetString()!.StartsWith(location, StringComparison.Ordinal) && (previous is null || seen != previous))
                {
                    Assert.StartsWith(since is { } revision ? $"{revision}-" : "1-", root.GetProperty("revision").GetString());
                    return seen;
                }
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"no refusal at {location} within 20 s (last seen: {seen})");
    }

    private static string Config(string backendUrl, string tenant, int limit, string policy = "p") => ProxyJson.Create(
        backendUrl,
        new Dictionary<string, object>
        {
            ["r"] = ProxyJson.Route(
                "/r/{**rest}",
                new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = tenant },
                new Dictionary<string, string> { ["EdgeRateLimit"] = policy }),
        },
        new { RateLimits = new Dictionary<string, object> { [policy] = new { Limit = limit, Window = "00:01:00" } } });
}
