using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Edge.Configuration;
using Edge.Testing;
using Yarp.ReverseProxy.Configuration;

namespace Edge.FunctionalTests.Configuration;

public sealed class HotReloadTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private EdgeHost _edge = null!;
    private string _original = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _original = ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
        });
        _edge = await EdgeHost.StartAsync(_original);
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task Reload_RouteAdded_ServesWithinTwoSeconds()
    {
        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
            ["second"] = ProxyJson.Route("/second/{**rest}"),
        }));

        Assert.True(await EventuallyAsync(async () => (await _edge.Client.GetAsync("/second/x")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(2)),
            "the added route did not serve within 2 s");
        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);
        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        Assert.StartsWith("2-", status.RootElement.GetProperty("revision").GetString());
    }

    [Theory]
    [InlineData("broken-json")]
    [InlineData("empty-file")]
    [InlineData("unknown-step")]
    [InlineData("missing-policy")]
    [InlineData("zero-routes")]
    [InlineData("missing-cluster")]
    [InlineData("unknown-option")]
    [InlineData("enum-as-number")]
    public async Task Reload_BadEdit_RefusedAndOldRoutesKeepServing(string edit)
    {
        var content = edit switch
        {
            "broken-json" => _original[..(_original.Length / 2)],
            "empty-file" => "",
            "unknown-step" => ProxyJson.Create(_backend.Url, new Dictionary<string, object>
            {
                ["first"] = ProxyJson.Route("/first/{**rest}"),
                ["new"] = ProxyJson.Route("/new/{**rest}", new Dictionary<string, string> { ["EdgeTeleport"] = "now" }),
            }),
            "missing-policy" => ProxyJson.Create(_backend.Url, new Dictionary<string, object>
            {
                ["new"] = ProxyJson.Route("/new/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Sideways" }),
            }),
            "zero-routes" => ProxyJson.Create(_backend.Url, new Dictionary<string, object>()),
            "missing-cluster" => _original.Replace("\"ClusterId\": \"backend\"", "\"ClusterId\": \"nowhere\"", StringComparison.Ordinal),
            "unknown-option" => _original.Replace("\"Match\"", "\"Matsh\"", StringComparison.Ordinal),
            // Before, applied: every request of the cluster then failed with 502.
            "enum-as-number" => _original.Replace("\"Destinations\": {", "\"HttpRequest\": { \"VersionPolicy\": 9 }, \"Destinations\": {", StringComparison.Ordinal),
            _ => throw new ArgumentOutOfRangeException(nameof(edit)),
        };

        await _edge.WriteConfigAsync(content);

        Assert.True(await EventuallyAsync(async () =>
        {
            using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
            return status.RootElement.GetProperty("lastError").ValueKind == JsonValueKind.Object;
        }, TimeSpan.FromSeconds(5)), "the refusal did not show on /edge/status");

        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        Assert.StartsWith("1-", status.RootElement.GetProperty("revision").GetString());
        var errors = status.RootElement.GetProperty("lastError").GetProperty("errors");
        Assert.True(errors.GetArrayLength() > 0);
        Assert.All(errors.EnumerateArray(), e => Assert.False(string.IsNullOrEmpty(e.GetProperty("location").GetString())));
        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _edge.Client.GetAsync("/new/x")).StatusCode);
        var metrics = await _edge.Management.GetStringAsync("/metrics");
        Assert.Matches("edge_config_reloads_total\\{[^}]*result=\"refused\"", metrics);
    }

    [Fact]
    public async Task Reload_SameRefusedBytesNotifiedAgain_CountedOnce()
    {
        // An editor's truncate-then-write, or a save of unchanged bytes, notifies again: the same refusal is one refusal
        // in the counter (and in the log and the audit trail), not one per notification.
        using var counters = new Webhooks.EdgeCounterRecorder(_edge);
        var provider = (Edge.Proxy.Configuration.FileProxyConfigProvider)_edge.Services.GetRequiredService<Yarp.ReverseProxy.Configuration.IProxyConfigProvider>();
        var broken = _original.Replace("\"Match\"", "\"Matsh\"", StringComparison.Ordinal);
        await _edge.WriteConfigAsync(broken);
        Assert.False(await provider.ReloadAsync());
        await _edge.WriteConfigAsync(broken);
        Assert.False(await provider.ReloadAsync());
        Assert.False(await provider.ReloadAsync());

        Assert.Equal(1, Refused());
        await _edge.WriteConfigAsync(_original.Replace("\"Match\"", "\"Mutch\"", StringComparison.Ordinal));
        Assert.False(await provider.ReloadAsync());
        Assert.Equal(2, Refused());
        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);

        int Refused() => counters.Measurements.Count(m => m.Instrument == "edge.config.reloads" && m.Tags.GetValueOrDefault("result") == "refused");
    }

    [Fact]
    public async Task Reload_UnknownStep_ErrorNamesRouteAndField()
    {
        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
            ["new"] = ProxyJson.Route("/new/{**rest}", new Dictionary<string, string> { ["EdgeTeleport"] = "now" }),
        }));

        string? location = null;
        Assert.True(await EventuallyAsync(async () =>
        {
            using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
            if (status.RootElement.GetProperty("lastError").ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            var error = status.RootElement.GetProperty("lastError").GetProperty("errors")[0];
            location = error.GetProperty("location").GetString();
            return error.GetProperty("message").GetString()!.Contains("EdgeTeleport", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(5)));
        Assert.Equal("ReverseProxy:Routes:new:Transforms[0]:EdgeTeleport", location);
    }

    [Fact]
    public async Task Reload_SchemaFileWithTextThatIsNotUtf8_RefusedWithItsLineAndOldRoutesKeepServing()
    {
        // Before: the schema check threw; the reload was only logged as failed (no refusal, no lastError, no metric), and
        // the same file at start stopped the host with a stack trace.
        var schema = Path.Combine(_edge.Directory, "order.json");
        await File.WriteAllBytesAsync(schema, [.. "{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n  \"$ref\": \"#/$defs/"u8, 0xFF, .. "\"\n}"u8]);
        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
            ["orders"] = ProxyJson.Route("/orders", new Dictionary<string, string> { ["EdgeValidate"] = "order" }),
        }, new Dictionary<string, object> { ["Validation"] = new Dictionary<string, object> { ["order"] = new Dictionary<string, object> { ["JsonSchema"] = "file:" + schema } } }));

        string? message = null;
        Assert.True(await EventuallyAsync(async () =>
        {
            using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
            var lastError = status.RootElement.GetProperty("lastError");
            message = lastError.ValueKind == JsonValueKind.Object ? lastError.GetProperty("errors")[0].GetProperty("message").GetString() : null;
            return message is not null;
        }, TimeSpan.FromSeconds(5)), "the reload was not refused");
        Assert.Contains("not valid UTF-8", message, StringComparison.Ordinal);
        Assert.Contains("(line 3, byte 11)", message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);
    }

    [Fact]
    public async Task Reload_MalformedJson_LocationInDocumentedForm()
    {
        await _edge.WriteConfigAsync("""{ "ReverseProxy": { "Routes": { "first": { "ClusterId": 5 } } } }""");

        string? location = null;
        Assert.True(await EventuallyAsync(async () =>
        {
            using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
            var lastError = status.RootElement.GetProperty("lastError");
            location = lastError.ValueKind == JsonValueKind.Object ? lastError.GetProperty("errors")[0].GetProperty("location").GetString() : null;
            return location is not null;
        }, TimeSpan.FromSeconds(5)));
        Assert.Equal("ReverseProxy:Routes:first:ClusterId", location);
    }

    [Fact]
    public async Task Start_MalformedJson_FailsWithDocumentedLocation()
    {
        var exception = await Assert.ThrowsAsync<Edge.Configuration.EdgeConfigException>(() =>
            EdgeHost.StartAsync("""{ "ReverseProxy": { "Routes": { "bad": { "Match": { "Path": [1] } } } } }"""));

        Assert.Contains(exception.Errors, e => e.Location == "ReverseProxy:Routes:bad:Match:Path");
        Assert.DoesNotContain("$.", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_FileDeleted_RefusedAndOldRoutesKeepServing()
    {
        File.Delete(_edge.ConfigPath);

        Assert.True(await EventuallyAsync(async () =>
        {
            using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
            return status.RootElement.GetProperty("lastError").ValueKind == JsonValueKind.Object;
        }, TimeSpan.FromSeconds(5)));
        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);
    }

    [Fact]
    public async Task Reload_BadEditThenFixed_AppliesTheFix()
    {
        await _edge.WriteConfigAsync("{ not json");
        await Task.Delay(500);
        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["fixed"] = ProxyJson.Route("/fixed/{**rest}"),
        }));

        Assert.True(await EventuallyAsync(async () => (await _edge.Client.GetAsync("/fixed/x")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task Status_BadEditThenGoodEdit_CurrentErrorClearsAndLastRefusalKept()
    {
        using (var initial = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status")))
        {
            Assert.Equal("ok", initial.RootElement.GetProperty("state").GetString());
            Assert.Equal(JsonValueKind.Null, initial.RootElement.GetProperty("lastError").ValueKind);
            Assert.Equal(JsonValueKind.Null, initial.RootElement.GetProperty("lastRefusal").ValueKind);
        }

        await _edge.WriteConfigAsync("{ not json");
        Assert.True(await EventuallyAsync(async () => await StateAsync() == "refused-keeping-last-good", TimeSpan.FromSeconds(5)));
        string refusedAt;
        using (var refused = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status")))
        {
            var root = refused.RootElement;
            Assert.StartsWith("1-", root.GetProperty("revision").GetString());
            refusedAt = root.GetProperty("lastRefusal").GetProperty("at").GetString()!;
            Assert.Equal(refusedAt, root.GetProperty("lastError").GetProperty("at").GetString());
            Assert.True(root.GetProperty("lastError").GetProperty("errors").GetArrayLength() > 0);
        }

        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["fixed"] = ProxyJson.Route("/fixed/{**rest}") }));
        Assert.True(await EventuallyAsync(async () => await StateAsync() == "ok", TimeSpan.FromSeconds(5)), "the good edit did not clear the refused state");

        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        var current = status.RootElement;
        Assert.StartsWith("2-", current.GetProperty("revision").GetString());
        Assert.Equal(JsonValueKind.Null, current.GetProperty("lastError").ValueKind);
        var lastRefusal = current.GetProperty("lastRefusal");
        Assert.Equal(refusedAt, lastRefusal.GetProperty("at").GetString());
        Assert.True(lastRefusal.GetProperty("errors").GetArrayLength() > 0);
        Assert.True(current.GetProperty("loadedAt").GetDateTimeOffset() >= lastRefusal.GetProperty("at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Reload_RouteIdsDifferingOnlyInCase_RefusedAndTheOldRoutesServe()
    {
        // JSON keeps "orders" and "Orders" apart; YARP's route ids are case-insensitive and it refuses the pair.
        var edit = ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}"),
            ["Orders"] = ProxyJson.Route("/orders-too/{**rest}"),
        });

        await _edge.WriteConfigAsync(edit);

        Assert.True(await EventuallyAsync(async () => await StateAsync() == "refused-keeping-last-good", TimeSpan.FromSeconds(5)));
        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        Assert.StartsWith("1-", status.RootElement.GetProperty("revision").GetString());
        var error = Assert.Single(status.RootElement.GetProperty("lastError").GetProperty("errors").EnumerateArray());
        Assert.Contains("Orders", error.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _edge.Client.GetAsync("/orders/x")).StatusCode);
    }

    [Fact]
    public async Task Reload_RouteCopiedWithoutChangingItsPath_RefusedAndTheOriginalKeepsServing()
    {
        // Before: applied, and ASP.NET Core's matcher threw AmbiguousMatchException for every /first request: 500
        // edge_routing_error on the route that had served until then.
        var edit = ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
            ["first-copy"] = ProxyJson.Route("/first/{**path}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "other" }),
        });

        await _edge.WriteConfigAsync(edit);

        Assert.True(await EventuallyAsync(async () => await StateAsync() == "refused-keeping-last-good", TimeSpan.FromSeconds(5)));
        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        Assert.StartsWith("1-", status.RootElement.GetProperty("revision").GetString());
        var error = Assert.Single(status.RootElement.GetProperty("lastError").GetProperty("errors").EnumerateArray());
        Assert.Equal("ReverseProxy:Routes:first-copy:Match", error.GetProperty("location").GetString());
        Assert.Contains("same requests as route 'first'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);
    }

    [Fact]
    public async Task Reload_ConfigYarpItselfRefuses_RefusedOldRoutesServeAndTheNextEditApplies()
    {
        // Every check the edge knows runs before YARP sees a config; a config filter that throws is refused by YARP alone,
        // which keeps its routes. The edit must then count as refused (not "applied" while the old routes serve), and a
        // later edit must still reach YARP.
        using var backend = Backend.Start();
        string Config(params string[] ids) => ProxyJson.Create(backend.Url, ids.ToDictionary(id => id, id => ProxyJson.Route($"/{id}/{{**rest}}")));
        await using var edge = await EdgeHost.StartAsync(Config("kept"), configure: builder =>
            builder.Services.AddSingleton<Yarp.ReverseProxy.Configuration.IProxyConfigFilter, RefuseRouteFilter>());

        using var counters = new Webhooks.EdgeCounterRecorder(edge);
        await edge.WriteConfigAsync(Config("kept", "refused-by-yarp"));
        Assert.True(await EventuallyAsync(async () => await StateOfAsync(edge) == "refused-keeping-last-good", TimeSpan.FromSeconds(5)));

        // Saved again unchanged: the same refusal, counted (and logged, audited) once.
        await edge.WriteConfigAsync(Config("kept", "refused-by-yarp"));
        await Task.Delay(500);
        Assert.Equal(1, counters.Measurements.Count(m => m.Instrument == "edge.config.reloads" && m.Tags.GetValueOrDefault("result") == "refused"));
        using (var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status")))
        {
            Assert.StartsWith("1-", status.RootElement.GetProperty("revision").GetString());
            var error = Assert.Single(status.RootElement.GetProperty("lastError").GetProperty("errors").EnumerateArray());
            Assert.StartsWith("YARP refused the config", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/kept/x")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await edge.Client.GetAsync("/refused-by-yarp/x")).StatusCode);

        await edge.WriteConfigAsync(Config("kept", "added"));
        Assert.True(await EventuallyAsync(async () => await StateOfAsync(edge) == "ok", TimeSpan.FromSeconds(5)), "the next edit was not applied");
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/added/x")).StatusCode);
    }

    private static async Task<string?> StateOfAsync(EdgeHost edge)
    {
        using var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status"));
        return status.RootElement.GetProperty("state").GetString();
    }

    private sealed class RefuseRouteFilter : Yarp.ReverseProxy.Configuration.IProxyConfigFilter
    {
        public ValueTask<Yarp.ReverseProxy.Configuration.ClusterConfig> ConfigureClusterAsync(
            Yarp.ReverseProxy.Configuration.ClusterConfig cluster, CancellationToken cancel) => new(cluster);

        public ValueTask<Yarp.ReverseProxy.Configuration.RouteConfig> ConfigureRouteAsync(
            Yarp.ReverseProxy.Configuration.RouteConfig route, Yarp.ReverseProxy.Configuration.ClusterConfig? cluster, CancellationToken cancel) =>
            route.RouteId == "refused-by-yarp" ? throw new InvalidOperationException("this filter refuses the route") : new(route);
    }

    [Fact]
    public async Task Status_BadEditThenLastGoodRestored_StateOkWithoutNewRevision()
    {
        var good = ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["kept"] = ProxyJson.Route("/kept/{**rest}") });
        await _edge.WriteConfigAsync(good);
        Assert.True(await EventuallyAsync(async () => (await _edge.Client.GetAsync("/kept/x")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(5)));
        string revision;
        using (var applied = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status")))
        {
            revision = applied.RootElement.GetProperty("revision").GetString()!;
        }

        await _edge.WriteConfigAsync("{ not json");
        Assert.True(await EventuallyAsync(async () => await StateAsync() == "refused-keeping-last-good", TimeSpan.FromSeconds(5)));

        // Putting back exactly the file that is serving is the usual way out of a bad edit: nothing new to apply, but
        // the refused edit is no longer what the file says, so a monitor on lastError must stop firing.
        await _edge.WriteConfigAsync(good);
        Assert.True(await EventuallyAsync(async () => await StateAsync() == "ok", TimeSpan.FromSeconds(5)), "restoring the serving config did not clear the refused state");

        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        Assert.Equal(revision, status.RootElement.GetProperty("revision").GetString());
        Assert.Equal(JsonValueKind.Null, status.RootElement.GetProperty("lastError").ValueKind);
        Assert.Equal(JsonValueKind.Object, status.RootElement.GetProperty("lastRefusal").ValueKind);
    }

    [Fact]
    public async Task Reload_BadEditThenServingFileRestored_LogsThatTheRefusalIsOver()
    {
        // The log said "Refused edit … still serving revision 1" and then nothing once the file was put back, so whoever
        // reads the log could not tell the refusal was over.
        var log = LogFile.NewPath();
        try
        {
            await using var edge = await EdgeHost.StartAsync(_original, LogFile.Settings(log));
            string revision;
            using (var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status")))
            {
                revision = status.RootElement.GetProperty("revision").GetString()!;
            }

            await edge.WriteConfigAsync("{ not json");
            Assert.True(await EventuallyAsync(async () => await LogFile.ReadLinesAsync(log) is var lines && lines.Any(l => l.Contains("Refused edit", StringComparison.Ordinal)), TimeSpan.FromSeconds(10)));

            await edge.WriteConfigAsync(_original);

            Assert.True(await EventuallyAsync(async () => (await LogFile.ReadLinesAsync(log)).Any(l => l.StartsWith(
                "Edge.Proxy.Configuration.FileProxyConfigProvider|Information|proxy.json", StringComparison.Ordinal)
                && l.EndsWith($"is back to the serving revision {revision}; the refused edit is over", StringComparison.Ordinal)), TimeSpan.FromSeconds(10)),
                "no log line said the refusal was over:\n" + string.Join('\n', await LogFile.ReadLinesAsync(log)));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public async Task Reload_DuringSlowInFlightRequest_RequestCompletes()
    {
        using var slow = WireMock.Server.WireMockServer.Start();
        slow.Given(WireMock.RequestBuilders.Request.Create().WithPath("/first/slow").UsingAnyMethod())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(200).WithBody("slow-ok").WithDelay(TimeSpan.FromSeconds(1.5)));
        slow.Given(WireMock.RequestBuilders.Request.Create().WithPath("/first/probe").UsingAnyMethod())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(200).WithBody("probe-ok"));
        await _edge.WriteConfigAsync(ProxyJson.Create(slow.Urls[0] + "/", new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
        }));
        // YARP applies a signalled config asynchronously; wait until the new cluster actually answers.
        Assert.True(await EventuallyAsync(async () => await (await _edge.Client.GetAsync("/first/probe")).Content.ReadAsStringAsync() == "probe-ok", TimeSpan.FromSeconds(3)));

        var inFlight = _edge.Client.GetAsync("/first/slow");
        await Task.Delay(300);
        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["other"] = ProxyJson.Route("/other/{**rest}"),
        }));

        using var response = await inFlight;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("slow-ok", await response.Content.ReadAsStringAsync());
        Assert.True(await EventuallyAsync(async () => (await _edge.Client.GetAsync("/other/x")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task Reload_KubernetesConfigMapSymlinkSwap_AppliesTheNewVersion()
    {
        // A ConfigMap volume as the kubelet lays it out: proxy.json -> ..data/proxy.json, ..data -> a timestamped folder.
        var mount = Directory.CreateTempSubdirectory("edge-configmap-").FullName;
        Directory.CreateDirectory(Path.Combine(mount, "..2026_12_03_00_00_00.1"));
        await File.WriteAllTextAsync(Path.Combine(mount, "..2026_12_03_00_00_00.1", "proxy.json"), _original);
        Directory.CreateSymbolicLink(Path.Combine(mount, "..data"), "..2026_12_03_00_00_00.1");
        File.CreateSymbolicLink(Path.Combine(mount, "proxy.json"), "..data/proxy.json");
        await using var edge = await EdgeHost.StartAsync(_original, new Dictionary<string, string?> { ["Edge:ProxyConfigPath"] = Path.Combine(mount, "proxy.json") });
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/first/x")).StatusCode);

        // An update: a new timestamped folder and a new link renamed over ..data (rename(2), as the kubelet's atomic writer does).
        Directory.CreateDirectory(Path.Combine(mount, "..2026_12_03_00_01_00.2"));
        await File.WriteAllTextAsync(Path.Combine(mount, "..2026_12_03_00_01_00.2", "proxy.json"), ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
            ["second"] = ProxyJson.Route("/second/{**rest}"),
        }));
        Directory.CreateSymbolicLink(Path.Combine(mount, "..data_tmp"), "..2026_12_03_00_01_00.2");
        using (var rename = System.Diagnostics.Process.Start("mv", ["-T", Path.Combine(mount, "..data_tmp"), Path.Combine(mount, "..data")]))
        {
            await rename.WaitForExitAsync();
            Assert.Equal(0, rename.ExitCode);
        }

        Assert.True(await EventuallyAsync(async () => (await edge.Client.GetAsync("/second/x")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(3)),
            "the swapped ConfigMap version did not serve within 3 s");
        using var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status"));
        Assert.StartsWith("2-", status.RootElement.GetProperty("revision").GetString());
    }

    [Fact]
    public async Task Reload_RefusedForMissingSecretFileThenFileCreatedAndProxyJsonTouched_Applies()
    {
        var secret = Path.Combine(Directory.CreateTempSubdirectory("edge-secret-").FullName, "github-secret");
        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
            ["hooks"] = ProxyJson.Route("/hooks/{**rest}", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }),
        }, new { Webhooks = new { github = new { Scheme = "GitHub", Secrets = new[] { "file:" + secret } } } }));
        Assert.True(await EventuallyAsync(async () => await StateAsync() == "refused-keeping-last-good", TimeSpan.FromSeconds(3)));

        // The fix is outside proxy.json; touching proxy.json (same bytes) asks for another look.
        await File.WriteAllTextAsync(secret, "a-webhook-secret-of-some-length\n");
        File.SetLastWriteTimeUtc(_edge.ConfigPath, DateTime.UtcNow.AddSeconds(1));

        Assert.True(await EventuallyAsync(async () => await StateAsync() == "ok", TimeSpan.FromSeconds(3)), "the touched proxy.json was not validated again");
        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        Assert.StartsWith("2-", status.RootElement.GetProperty("revision").GetString());
    }

    [Fact]
    public async Task Reload_SecretFileIsANamedPipe_RefusedAndTheNextEditApplies()
    {
        var fifo = Path.Combine(Directory.CreateTempSubdirectory("edge-secret-").FullName, "github-secret");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
        }

        // Before: reading the pipe waited for a writer while holding the reload lock; this edit was never refused, and
        // the fix below was never applied either.
        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
            ["hooks"] = ProxyJson.Route("/hooks/{**rest}", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }),
        }, new { Webhooks = new { github = new { Scheme = "GitHub", Secrets = new[] { "file:" + fifo } } } }));

        Assert.True(await EventuallyAsync(async () => await StateAsync() == "refused-keeping-last-good", TimeSpan.FromSeconds(5)), "the edit naming a pipe was not refused");
        using (var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status")))
        {
            var error = Assert.Single(status.RootElement.GetProperty("lastError").GetProperty("errors").EnumerateArray());
            Assert.Equal("Edge:Webhooks:github:Secrets[0]", error.GetProperty("location").GetString());
            Assert.Contains("is a named pipe or socket, not a file", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}"),
            ["second"] = ProxyJson.Route("/second/{**rest}"),
        }));

        Assert.True(await EventuallyAsync(async () => (await _edge.Client.GetAsync("/second/x")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(5)),
            "the edit after the refused one was not applied");
        File.Delete(fifo);
    }

    [Fact]
    public async Task Metrics_BadEditLeftThenFixed_LastReloadSuccessfulIsZeroUntilTheFix()
    {
        Assert.Contains("\nedge_config_last_reload_successful", await _edge.Management.GetStringAsync("/metrics"), StringComparison.Ordinal);
        Assert.Equal(1, LastReloadSuccessful());

        await _edge.WriteConfigAsync("{ not json");
        Assert.True(await EventuallyAsync(() => Task.FromResult(LastReloadSuccessful() == 0), TimeSpan.FromSeconds(10)), "not 0 while refused");
        await Task.Delay(1500);
        Assert.Equal(0, LastReloadSuccessful());

        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["fixed"] = ProxyJson.Route("/fixed/{**rest}") }));
        Assert.True(await EventuallyAsync(() => Task.FromResult(LastReloadSuccessful() == 1), TimeSpan.FromSeconds(10)), "not 1 after the fix");

        long? LastReloadSuccessful() => _edge.ReadOwnGauge("edge.config.last_reload_successful");
    }

    [Fact]
    public async Task Readyz_BadEditLeftThenFixed_DegradedWith200UntilTheFix()
    {
        using (var initial = await ReadyzAsync())
        {
            Assert.Equal("Healthy", initial.RootElement.GetProperty("status").GetString());
        }

        await _edge.WriteConfigAsync("{ not json");
        Assert.True(await EventuallyAsync(async () => await StateAsync() == "refused-keeping-last-good", TimeSpan.FromSeconds(5)));

        // Still ready (the last good config serves), but a probe that reads only /readyz sees the refusal.
        using var refusedResponse = await _edge.Management.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, refusedResponse.StatusCode);
        using (var refused = JsonDocument.Parse(await refusedResponse.Content.ReadAsStringAsync()))
        {
            Assert.Equal("Degraded", refused.RootElement.GetProperty("status").GetString());
            var config = refused.RootElement.GetProperty("checks").GetProperty("config");
            Assert.Equal("Degraded", config.GetProperty("status").GetString());
            Assert.Contains("refused", config.GetProperty("description").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await _edge.Client.GetAsync("/first/x")).StatusCode);

        await _edge.WriteConfigAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["fixed"] = ProxyJson.Route("/fixed/{**rest}") }));
        Assert.True(await EventuallyAsync(async () => await StateAsync() == "ok", TimeSpan.FromSeconds(5)), "the good edit did not apply");
        using var fixedReady = await ReadyzAsync();
        Assert.Equal("Healthy", fixedReady.RootElement.GetProperty("status").GetString());
    }

    private async Task<JsonDocument> ReadyzAsync() => JsonDocument.Parse(await _edge.Management.GetStringAsync("/readyz"));

    [Fact]
    public async Task Start_InvalidConfig_FailsFastWithLocation()
    {
        var exception = await Assert.ThrowsAsync<Edge.Configuration.EdgeConfigException>(() => EdgeHost.StartAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["bad"] = ProxyJson.Route("/bad/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header" }),
        })));

        Assert.Contains(exception.Errors, e => e.Location == "ReverseProxy:Routes:bad:Transforms[0]:Name");
        Assert.Contains("ReverseProxy:Routes:bad:Transforms[0]:Name", exception.Message);
    }

    [Fact]
    public async Task Reload_ValidationThrows_RefusedWithTheExceptionAndOldRoutesKeepServing()
    {
        // A check that throws instead of reporting used to end in a log line only: no refusal, no lastError, no metric.
        await using var edge = await EdgeHost.StartAsync(_original, configure: builder => builder.Services.AddSingleton<IEdgeRouteValidator, ThrowingRouteValidator>());
        var content = ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
            [ThrowingRouteValidator.RouteId] = ProxyJson.Route("/explodes"),
        });

        await edge.WriteConfigAsync(content);

        var (location, message) = await FirstReloadErrorAsync(edge);
        Assert.Equal("proxy.json", location);
        Assert.Contains("could not be validated (InvalidOperationException: " + ThrowingRouteValidator.Message + ")", message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/first/x")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await edge.Client.GetAsync("/explodes")).StatusCode);

        var exception = await Assert.ThrowsAsync<Edge.Configuration.EdgeConfigException>(() =>
            EdgeHost.StartAsync(content, configure: builder => builder.Services.AddSingleton<IEdgeRouteValidator, ThrowingRouteValidator>()));
        Assert.Contains(ThrowingRouteValidator.Message, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_HostsEntryTheMatcherCannotParse_RefusedAndEveryRouteKeepsServing()
    {
        // YARP accepted "api.example.com:abc"; ASP.NET's host matcher then threw on every request, so every route of
        // the edge answered an empty 500 after the reload.
        await using var edge = await EdgeHost.StartAsync(_original);
        var content = ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["first"] = ProxyJson.Route("/first/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
            ["hosted"] = new Dictionary<string, object>
            {
                ["ClusterId"] = "backend",
                ["Match"] = new { Path = "/hosted", Hosts = new[] { "api.example.com:abc" } },
            },
        });

        await edge.WriteConfigAsync(content);

        var (location, _) = await FirstReloadErrorAsync(edge);
        Assert.Equal("ReverseProxy:Routes:hosted:Match:Hosts[0]", location);
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/first/x")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await edge.Client.GetAsync("/hosted")).StatusCode);

        var exception = await Assert.ThrowsAsync<Edge.Configuration.EdgeConfigException>(() => EdgeHost.StartAsync(content));
        Assert.Contains("port that is not a number", exception.Message, StringComparison.Ordinal);
    }

    private sealed class ThrowingRouteValidator : IEdgeRouteValidator
    {
        public const string RouteId = "explodes";
        public const string Message = "a route validator failed";

        public void Validate(RouteConfig route, EdgeSection edge, ConfigErrorList errors)
        {
            if (route.RouteId == RouteId)
            {
                throw new InvalidOperationException(Message);
            }
        }

        public RouteConfig ForYarp(RouteConfig route) => route;
    }

    /// <summary>Waits for /edge/status to report a refused reload; its first error's location and message.</summary>
    private static async Task<(string? Location, string? Message)> FirstReloadErrorAsync(EdgeHost edge)
    {
        string? location = null, message = null;
        Assert.True(await EventuallyAsync(async () =>
        {
            using var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status"));
            var lastError = status.RootElement.GetProperty("lastError");
            if (lastError.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            location = lastError.GetProperty("errors")[0].GetProperty("location").GetString();
            message = lastError.GetProperty("errors")[0].GetProperty("message").GetString();
            return true;
        }, TimeSpan.FromSeconds(5)), "the reload was not refused");
        return (location, message);
    }

    private async Task<string?> StateAsync()
    {
        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        return status.RootElement.GetProperty("state").GetString();
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return await condition();
    }
}
