using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// proxy.json edited while 32 connections send: every request is answered by one whole config (its steps, its body cap
/// and its cluster), never a 5xx or a reset, and the audit holds exactly one record per request saying what its client got.
/// </summary>
public sealed class ConcurrentReloadTests
{
    private const int Clients = 32;
    private const int UploadBytes = 2000;

    [Fact]
    public async Task Reload_WhileThirtyTwoClientsSend_EveryRequestServedByOneWholeConfigAndAudited()
    {
        using var oldBackend = Backend.Start(body: "old");
        using var newBackend = Backend.Start(body: "new");
        await using var edge = await EdgeHost.StartAsync(Versioned(oldBackend.Url, "old", cap: 1000));
        var responses = new ConcurrentBag<Observed>();
        using var cancel = new CancellationTokenSource();

        var load = Enumerable.Range(0, Clients).Select(i => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var n = 0;
            while (!cancel.IsCancellationRequested || n < 4)
            {
                responses.Add(await SendAsync(client, upload: (i + n++) % 2 == 0));
            }
        })).ToList();

        // Four edits each way, each applied while the clients keep sending.
        for (var revision = 2; revision <= 9; revision++)
        {
            var fresh = revision % 2 == 0;
            await edge.WriteConfigAsync(fresh ? Versioned(newBackend.Url, "new", cap: 4000) : Versioned(oldBackend.Url, "old", cap: 1000));
            await WaitForRevisionAsync(edge, revision);
        }

        await cancel.CancelAsync();
        await Task.WhenAll(load);

        var all = responses.ToList();
        // Served: 200 from one backend, or the documented refusal of the old cap.
        Assert.All(all, r => Assert.True(
            r.Status == HttpStatusCode.OK ? r.Body is "old" or "new" : r.Status == HttpStatusCode.RequestEntityTooLarge && r.Code == "body_too_large",
            $"{r.Path} got {(int)r.Status} {r.Code} {r.Body}"));
        Assert.Contains(all, r => r.Body == "old");
        Assert.Contains(all, r => r.Body == "new");

        // Never old steps with the new cluster or the reverse: each backend saw only its own config's tenant, and an upload
        // reached a backend only under the cap that admits it, whole.
        AssertBackendSawOnly(oldBackend, "old", all);
        AssertBackendSawOnly(newBackend, "new", all);
        Assert.All(all.Where(r => r.Path == "up" && r.Status == HttpStatusCode.OK), r => Assert.Equal("new", r.Body));
        var uploads = newBackend.Received.Where(e => e.RequestMessage!.Path.StartsWith("/up/", StringComparison.Ordinal)).ToList();
        Assert.All(uploads, e => Assert.Equal(UploadBytes, e.RequestMessage!.BodyAsBytes?.Length ?? Encoding.UTF8.GetByteCount(e.RequestMessage.Body ?? "")));

        // The audit says what each client got: one record per request, with its status.
        var records = await AuditRecordsAsync(edge, all.Select(r => r.RequestId).ToHashSet());
        Assert.Equal(all.Count, records.Count);
        Assert.All(all, r =>
        {
            var record = records[r.RequestId];
            Assert.Equal((int)r.Status, record.GetProperty("status").GetInt32());
            Assert.Equal(r.Path, record.GetProperty("route").GetString());
            Assert.Equal(r.Status == HttpStatusCode.OK ? "allow" : "deny", record.GetProperty("decision").GetString());
        });
    }

    [Fact]
    public async Task Reload_OnlyTheDestinationChanged_RequestsGoToTheNewAddress()
    {
        // Nothing of the route or the Edge section changes, so YARP keeps the route; its steps must not keep the old address.
        using var oldBackend = Backend.Start(body: "old");
        using var newBackend = Backend.Start(body: "new");
        await using var edge = await EdgeHost.StartAsync(Versioned(oldBackend.Url, "same", cap: 1000));
        Assert.Equal("old", await edge.Client.GetStringAsync("/r/x"));

        await edge.WriteConfigAsync(Versioned(newBackend.Url, "same", cap: 1000));
        await WaitForRevisionAsync(edge, 2);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("new", await edge.Client.GetStringAsync("/r/x"));
        }
    }

    [Fact]
    public async Task Reload_StatusShowsTheRevision_TheNextRequestIsServedByIt()
    {
        // /edge/status is how an operator (and a deploy script) learns an edit is live: once it names a revision, a request
        // sent after it must be matched to that revision's routes. Background clients keep the cores busy, which widens any
        // gap between "applied" and "serving".
        using var oldBackend = Backend.Start(body: "old");
        using var newBackend = Backend.Start(body: "new");
        await using var edge = await EdgeHost.StartAsync(Versioned(oldBackend.Url, "old", cap: 1000));
        using var cancel = new CancellationTokenSource();
        var background = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            while (!cancel.IsCancellationRequested)
            {
                using var response = await client.GetAsync("/r/x");
            }
        })).ToList();

        var stale = new List<string>();
        for (var revision = 2; revision <= 13; revision++)
        {
            var fresh = revision % 2 == 0;
            await edge.WriteConfigAsync(fresh ? Versioned(newBackend.Url, "new", cap: 1000) : Versioned(oldBackend.Url, "old", cap: 1000));
            await WaitForRevisionAsync(edge, revision, pollMilliseconds: 1);
            var body = await edge.Client.GetStringAsync("/r/x");
            if (body != (fresh ? "new" : "old"))
            {
                stale.Add($"revision {revision} shown, request served by '{body}'");
            }
        }

        await cancel.CancelAsync();
        await Task.WhenAll(background);
        Assert.Empty(stale);
    }

    [Fact]
    public async Task Reload_RefusedEditThenRouteRemoved_UnderLoad_OldConfigServesRefusalCountedOnceAndAuditMatches()
    {
        using var backend = Backend.Start();
        string Config(bool withGone) => ProxyJson.Create(backend.Url, withGone
            ? new Dictionary<string, object>
            {
                ["kept"] = ProxyJson.Route("/kept/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
                ["gone"] = ProxyJson.Route("/gone/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
            }
            : new Dictionary<string, object>
            {
                ["kept"] = ProxyJson.Route("/kept/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
            });
        await using var edge = await EdgeHost.StartAsync(Config(withGone: true));
        using var counters = new Webhooks.EdgeCounterRecorder(edge);
        var responses = new ConcurrentBag<(string Path, HttpStatusCode Status, string RequestId, string? Code)>();
        using var cancel = new CancellationTokenSource();
        var load = Enumerable.Range(0, Clients).Select(i => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var n = 0;
            while (!cancel.IsCancellationRequested || n < 4)
            {
                var path = (i + n++) % 2 == 0 ? "kept" : "gone";
                using var response = await client.GetAsync($"/{path}/x");
                string? code = null;
                if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
                {
                    using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                    code = problem.RootElement.GetProperty("code").GetString();
                }

                responses.Add((path, response.StatusCode, Assert.Single(response.Headers.GetValues("X-Request-Id")), code));
            }
        })).ToList();

        // A broken edit, saved twice: refused once, the old config keeps serving, /readyz says so.
        var broken = Config(withGone: false).Replace("\"Match\"", "\"Matsh\"", StringComparison.Ordinal);
        await edge.WriteConfigAsync(broken);
        await RateLimiting.RateLimitRoutes.WaitUntilAsync(
            async () => JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status")).RootElement.GetProperty("state").GetString(),
            state => state == "refused-keeping-last-good", "refusal shown");
        await edge.WriteConfigAsync(broken);
        using (var ready = JsonDocument.Parse(await edge.Management.GetStringAsync("/readyz")))
        {
            Assert.Equal("Degraded", ready.RootElement.GetProperty("status").GetString());
        }

        // Then the route removed while requests to it are in flight.
        await edge.WriteConfigAsync(Config(withGone: false));
        await WaitForRevisionAsync(edge, 2);
        await RateLimiting.RateLimitRoutes.WaitUntilAsync(() => edge.Client.GetAsync("/gone/x"), r => r.StatusCode == HttpStatusCode.NotFound, "route removed");
        await cancel.CancelAsync();
        await Task.WhenAll(load);

        var all = responses.ToList();
        Assert.All(all.Where(r => r.Path == "kept"), r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(all.Where(r => r.Path == "gone"), r => Assert.True(
            r.Status == HttpStatusCode.OK || (r.Status == HttpStatusCode.NotFound && r.Code == "not_found"), $"{(int)r.Status} {r.Code}"));
        Assert.Contains(all, r => r.Path == "gone" && r.Status == HttpStatusCode.OK);
        Assert.Contains(all, r => r.Path == "gone" && r.Status == HttpStatusCode.NotFound);
        Assert.Equal(1, counters.Measurements.Count(m => m.Instrument == "edge.config.reloads" && m.Tags.GetValueOrDefault("result") == "refused"));
        var metrics = await edge.Management.GetStringAsync("/metrics");
        Assert.Contains("edge_config_last_reload_successful 1", metrics, StringComparison.Ordinal);

        var records = await AuditRecordsAsync(edge, all.Select(r => r.RequestId).ToHashSet());
        Assert.Equal(all.Count, records.Count);
        Assert.All(all, r => Assert.Equal((int)r.Status, records[r.RequestId].GetProperty("status").GetInt32()));
    }

    private static void AssertBackendSawOnly(Backend backend, string tenant, List<Observed> responses)
    {
        var byId = responses.Where(r => r.Status == HttpStatusCode.OK).ToDictionary(r => r.RequestId);
        foreach (var entry in backend.Received)
        {
            var headers = new Dictionary<string, string>(
                entry.RequestMessage!.Headers!.Select(h => KeyValuePair.Create(h.Key, string.Join(",", h.Value))), StringComparer.OrdinalIgnoreCase);
            Assert.Equal(tenant, headers["X-Edge-Tenant"]);
            var id = headers["X-Request-Id"];
            Assert.Equal(tenant, byId[id].Body);
        }
    }

    private static string Versioned(string backendUrl, string tenant, int cap) => ProxyJson.Create(
        backendUrl,
        new Dictionary<string, object>
        {
            ["r"] = ProxyJson.Route("/r/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = tenant }),
            ["up"] = ProxyJson.Route(
                "/up/{**rest}",
                new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = tenant },
                new Dictionary<string, string> { ["EdgeValidate"] = "up" }),
        },
        new { Validation = new Dictionary<string, object> { ["up"] = new { MaxBodyBytes = cap } } });

    internal sealed record Observed(string Path, HttpStatusCode Status, string RequestId, string? Code, string Body);

    private static async Task<Observed> SendAsync(HttpClient client, bool upload)
    {
        using var request = upload
            ? new HttpRequestMessage(HttpMethod.Post, "/up/x") { Content = new ByteArrayContent(new byte[UploadBytes]) }
            : new HttpRequestMessage(HttpMethod.Get, "/r/x");
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        string? code = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
        {
            using var problem = JsonDocument.Parse(body);
            code = problem.RootElement.GetProperty("code").GetString();
        }

        return new Observed(upload ? "up" : "r", response.StatusCode, Assert.Single(response.Headers.GetValues("X-Request-Id")), code, body);
    }

    internal static async Task WaitForRevisionAsync(EdgeHost edge, int revision, int pollMilliseconds = 50)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            using var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status"));
            if (status.RootElement.GetProperty("revision").GetString()!.StartsWith($"{revision}-", StringComparison.Ordinal))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"revision {revision} not applied within 20 s");
            }

            await Task.Delay(pollMilliseconds);
        }
    }

    /// <summary>The decision records of <paramref name="ids"/> in the edge's local audit file, once all of them are written (or 20 s passed).</summary>
    internal static async Task<Dictionary<string, JsonElement>> AuditRecordsAsync(EdgeHost edge, IReadOnlySet<string> ids)
    {
        var path = Path.Combine(edge.Directory, "audit-decisions.ndjson");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var found = new Dictionary<string, JsonElement>();
        var duplicates = 0;
        while (true)
        {
            found.Clear();
            duplicates = 0;
            if (File.Exists(path))
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (!line.EndsWith('}'))
                    {
                        continue;
                    }

                    using var record = JsonDocument.Parse(line);
                    var id = record.RootElement.GetProperty("id").GetString()!;
                    if (ids.Contains(id) && !found.TryAdd(id, record.RootElement.GetProperty("data").Clone()))
                    {
                        duplicates++;
                    }
                }
            }

            if (found.Count == ids.Count || DateTime.UtcNow > deadline)
            {
                Assert.Equal(0, duplicates);
                return found;
            }

            await Task.Delay(100);
        }
    }
}
