using System.Net;
using System.Text;
using System.Text.Json;
using Edge.Audit.Storage;
using Edge.AuditWriter.Tests;
using Edge.Proxy.Auditing;
using Edge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Auditing;

public sealed class AuditTrailTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static string Config(string backendUrl) => ProxyJson.Create(backendUrl, new Dictionary<string, object>
    {
        ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        ["optional"] = new Dictionary<string, object>
        {
            ["ClusterId"] = "backend",
            ["Match"] = new { Path = "/optional/{**rest}" },
            ["Metadata"] = new Dictionary<string, string> { ["EdgeAudit"] = "Optional" },
        },
    });

    [Fact]
    public async Task EdgeRoute_RequestsAndConfigEvent_AreStoredByWriterUnderTheirIds()
    {
        using var backend = Backend.Start();
        var tokenVariable = "EDGE_TEST_INGEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(tokenVariable, "func-ingest-token-0123456789");
        await using var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:IngestToken=env:{tokenVariable}"]);
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
            ["Edge:Audit:IngestToken"] = $"env:{tokenVariable}",
            ["Edge:InstanceId"] = "edge-func",
        });

        using var allowedRequest = new HttpRequestMessage(HttpMethod.Post, "/orders/7?secret=query")
        {
            Content = new StringContent("{\"qty\":1}", Encoding.UTF8, "application/json"),
        };
        allowedRequest.Headers.Add("X-Tenant-ID", "acme");
        using var allowed = await edge.Client.SendAsync(allowedRequest);
        using var denied = await edge.Client.GetAsync("/orders/8");
        var allowedId = allowed.Headers.GetValues("X-Request-Id").Single();
        var deniedId = denied.Headers.GetValues("X-Request-Id").Single();

        var records = await WaitForRecordsAsync(writer, 3);
        var metrics = await edge.Management.GetStringAsync("/metrics");
        Assert.Contains("edge_audit_dropped_total", metrics, StringComparison.Ordinal);
        Assert.Contains("edge_audit_spool_bytes", metrics, StringComparison.Ordinal);
        Assert.Contains("edge_audit_oldest_unacked_seconds", metrics, StringComparison.Ordinal);
        var allowedRecord = JsonDocument.Parse(records.Single(r => r.Id == allowedId).Leaf).RootElement;
        var deniedRecord = JsonDocument.Parse(records.Single(r => r.Id == deniedId).Leaf).RootElement;

        var configEvent = records.Select(r => JsonDocument.Parse(r.Leaf).RootElement)
            .Single(r => r.GetProperty("type").GetString() == Edge.Audit.Records.AuditEventTypes.ConfigApplied);
        Assert.Equal("applied", configEvent.GetProperty("data").GetProperty("decision").GetString());
        Assert.True(configEvent.GetProperty("data").GetProperty("attributes").TryGetProperty("contentHash", out _));
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, denied.StatusCode);
        Assert.Equal("acme", allowedRecord.GetProperty("tenant").GetString());
        Assert.Equal("edge://edge-func", allowedRecord.GetProperty("source").GetString());
        var data = allowedRecord.GetProperty("data");
        Assert.Equal("allow", data.GetProperty("decision").GetString());
        Assert.Equal(200, data.GetProperty("status").GetInt32());
        Assert.Equal("/orders/7", data.GetProperty("path").GetString());
        Assert.Equal(backend.Url, data.GetProperty("destination").GetString());
        Assert.Equal(9, data.GetProperty("bytesIn").GetInt64());
        var deniedData = deniedRecord.GetProperty("data");
        Assert.Equal("deny", deniedData.GetProperty("decision").GetString());
        Assert.Equal("EdgeTenant", deniedData.GetProperty("step").GetString());
        Assert.Equal("tenant_missing", deniedData.GetProperty("reason").GetString());
        Assert.Equal(400, deniedData.GetProperty("status").GetInt32());
        // Before, a denial named the backend it was never sent to, as if it had been forwarded.
        Assert.False(deniedData.TryGetProperty("destination", out _));
    }

    [Fact]
    public async Task SpoolAtCap_RequiredRouteAnswers503AndOptionalRouteCountsDrops()
    {
        using var backend = Backend.Start();
        // The writer address is a closed port: nothing is acknowledged, so the spool fills up.
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/",
            ["Edge:Audit:SpoolMaxBytes"] = "24576",
            // Nothing can be drained to a closed port; do not hold the test's shutdown for the default 10 s.
            ["Edge:Audit:DrainTimeout"] = "00:00:00.200",
        });

        var optionalStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 80; i++)
        {
            using var response = await edge.Client.GetAsync($"/optional/{i}");
            optionalStatuses.Add(response.StatusCode);
        }

        var backendCallsBefore = backend.Received.Count;
        using var requiredRequest = new HttpRequestMessage(HttpMethod.Get, "/orders/1");
        requiredRequest.Headers.Add("X-Tenant-ID", "acme");
        using var required = await edge.Client.SendAsync(requiredRequest);
        var problem = JsonDocument.Parse(await required.Content.ReadAsStringAsync()).RootElement;
        var metrics = await edge.Management.GetStringAsync("/metrics");
        var sink = edge.Services.GetRequiredService<SpoolAuditSink>();

        Assert.All(optionalStatuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.True(sink.Spool.Metrics.Dropped > 0, "optional requests past the cap are counted as dropped");
        // 80 requests plus the config-applied security event at startup, each either spooled or counted as dropped.
        Assert.Equal(81, sink.Spool.DurableSequence + sink.Spool.Metrics.Dropped);
        Assert.Contains("edge_audit_dropped_total", metrics, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, required.StatusCode);
        Assert.Equal("audit_unavailable", problem.GetProperty("code").GetString());
        Assert.Equal(backendCallsBefore, backend.Received.Count);
    }

    [Fact]
    public async Task SpoolReachingItsCap_ManyConcurrentRequests_EveryServedRequestAnsweredAndRecorded()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/",
            ["Edge:Audit:SpoolMaxBytes"] = "65536",
            ["Edge:Audit:DrainTimeout"] = "00:00:00.200",
        });
        // A slow backend keeps every client's request in flight at once, so whole waves are admitted together.
        backend.Server.Given(WireMock.RequestBuilders.Request.Create().UsingAnyMethod()).AtPriority(0)
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(200).WithDelay(TimeSpan.FromMilliseconds(200)));
        var spool = edge.Services.GetRequiredService<SpoolAuditSink>().Spool;
        var recordsBefore = spool.DurableSequence;

        // Each client sends until the edge refuses it: many requests are admitted together near the cap. Before, an
        // admitted request whose record no longer fit was aborted after the backend had served it, and its record lost.
        var served = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await Task.WhenAll(Enumerable.Range(0, 128).Select(async _ =>
        {
            while (true)
            {
                try
                {
                    using var response = await SendRequiredAsync(edge);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                        return;
                    }

                    Interlocked.Increment(ref served);
                }
                catch (HttpRequestException exception)
                {
                    failures.Enqueue(exception.Message);
                    return;
                }
            }
        }));
        await edge.DisposeAsync();

        Assert.Empty(failures);
        Assert.Equal(served, backend.Received.Count);
        Assert.True(served > 0);
        // Every served request's record is in the spool (a refusal's record may be dropped at the cap; it served nothing).
        Assert.True(spool.DurableSequence - recordsBefore >= served, $"{spool.DurableSequence - recordsBefore} records for {served} served requests");
    }

    [Fact]
    public async Task SpoolReachingItsCapWhileTheBodyStreams_BackendBreaksOff_IncompleteRecordStillSpooledNotDropped()
    {
        var breakOff = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await StartBreakingBackendAsync(breakOff.Task);
        await using var edge = await EdgeHost.StartAsync(Config(backend.Urls.Single() + "/"), SpoolAtCap.Settings(32 * 1024));
        var spool = SpoolAtCap.Spool(edge);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/report");
        request.Headers.Add("X-Tenant-ID", "acme");
        using var response = await edge.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var requestId = response.Headers.GetValues("X-Request-Id").Single();

        await SpoolAtCap.FillAsync(edge, "/optional/");
        using var refused = await SendRequiredAsync(edge);
        var (recordsBefore, droppedBefore) = (spool.DurableSequence, spool.Metrics.Dropped);
        breakOff.SetResult();
        var body = await response.Content.ReadAsStreamAsync();
        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null));
        await SpoolAtCap.WaitForAppendOrDropAsync(spool, recordsBefore, droppedBefore);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable), (response.StatusCode, refused.StatusCode));
        // Before, the record that the body was cut was refused at the cap: the trail said 200 with the whole body.
        Assert.Equal(droppedBefore, spool.Metrics.Dropped);
        var record = Assert.Single(SpoolAtCap.Records(spool), r => r.GetProperty("type").GetString() == Edge.Audit.Records.AuditEventTypes.ResponseIncomplete).GetProperty("data");
        Assert.Equal(("backend_response_incomplete", requestId), (record.GetProperty("reason").GetString(), record.GetProperty("attributes").GetProperty("requestId").GetString()));
    }

    /// <summary>
    /// Answers <c>/orders/report</c> 200 with a declared 100000-byte body, sends its first 1000 bytes, and breaks the
    /// connection off when <paramref name="breakOff"/> completes; any other path "ok".
    /// </summary>
    private static async Task<WebApplication> StartBreakingBackendAsync(Task breakOff)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(async context =>
        {
            if (context.Request.Path != "/orders/report")
            {
                await context.Response.WriteAsync("ok");
                return;
            }

            context.Response.ContentLength = 100_000;
            await context.Response.Body.WriteAsync(new byte[1000]);
            await context.Response.Body.FlushAsync();
            await breakOff.WaitAsync(context.RequestAborted);
            context.Abort();
        });
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task SpoolWriteFailing_RequiredRouteAnswers503WithoutCallingTheBackendAndRecoversOnceItWrites()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/",
            ["Edge:Audit:DrainTimeout"] = "00:00:00.200",
        });
        var spool = edge.Services.GetRequiredService<SpoolAuditSink>().Spool;
        Assert.Equal(HttpStatusCode.OK, (await SendRequiredAsync(edge)).StatusCode);

        // One record that leaves 100 bytes of its 8 MiB segment free: the next append must start a segment. With a file
        // where the spool directory was (a removed directory, or a full disk, fail the same way), it cannot.
        Assert.True(await spool.TryAppendAsync(new byte[(8 * 1024 * 1024) - 24 - 100]));
        Directory.Delete(spool.Directory, recursive: true);
        await File.WriteAllTextAsync(spool.Directory, "");
        await Assert.ThrowsAnyAsync<IOException>(() => spool.TryAppendAsync(new byte[200]).AsTask());

        var backendCalls = backend.Received.Count;
        // Before, the request was forwarded, its record failed, and its connection was aborted: an empty answer after
        // the backend had acted, and /readyz said Healthy.
        using var refused = await SendRequiredAsync(edge);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("audit_unavailable", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(backendCalls, backend.Received.Count);
        using var degraded = await edge.Management.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, degraded.StatusCode);
        var audit = JsonDocument.Parse(await degraded.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty("audit");
        Assert.Equal("Degraded", audit.GetProperty("status").GetString());
        Assert.Contains("cannot be written", audit.GetProperty("description").GetString(), StringComparison.Ordinal);
        // Polled: the exporter answers a scrape from its cache for 300 ms, and a scrape under a loaded host can be older.
        var failures = "";
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            failures = string.Join('\n', (await edge.Management.GetStringAsync("/metrics")).Split('\n').Where(line => line.StartsWith("edge_audit_spool_write_failures_total", StringComparison.Ordinal)));
            if (System.Text.RegularExpressions.Regex.IsMatch(failures, @"edge_audit_spool_write_failures_total\{[^}]*\} [1-9]"))
            {
                break;
            }
        }

        Assert.Matches(@"edge_audit_spool_write_failures_total\{[^}]*\} [1-9]", failures);

        File.Delete(spool.Directory);
        Directory.CreateDirectory(spool.Directory);
        // One request a second tries the spool again; the first that writes serves, and the ones after it too.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while ((await SendRequiredAsync(edge)).StatusCode != HttpStatusCode.OK)
        {
            await Task.Delay(100, timeout.Token);
        }

        Assert.Equal(HttpStatusCode.OK, (await SendRequiredAsync(edge)).StatusCode);
        Assert.Null(spool.WriteFailure);
        var ready = JsonDocument.Parse(await edge.Management.GetStringAsync("/readyz")).RootElement;
        Assert.Equal("Healthy", ready.GetProperty("checks").GetProperty("audit").GetProperty("status").GetString());
    }

    [Fact]
    public async Task SpoolSegmentPathTaken_RequiredRouteAnswers503NotAnEmpty500()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/",
            ["Edge:Audit:DrainTimeout"] = "00:00:00.200",
        });
        var spool = edge.Services.GetRequiredService<SpoolAuditSink>().Spool;
        Assert.True(await spool.TryAppendAsync(new byte[(8 * 1024 * 1024) - 24 - 100]));

        // The next segment cannot be opened for another reason than a full disk: the operating system answers EACCES
        // (a spool directory made read-only for the edge's user) or, here, EISDIR; .NET raises both as
        // UnauthorizedAccessException, which escaped the sink: the client got an empty 500 after the backend acted.
        Directory.CreateDirectory(Path.Combine(spool.Directory, $"{spool.DurableSequence + 1:D20}.seg"));
        var backendCalls = backend.Received.Count;
        // The request admitted before the failure was known ends as one whose record failed on a full disk: aborted.
        await Assert.ThrowsAsync<HttpRequestException>(() => SendRequiredAsync(edge));
        using var refused = await SendRequiredAsync(edge);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("audit_unavailable", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.NotNull(spool.WriteFailure);
        Assert.True(backend.Received.Count <= backendCalls + 1);
    }

    private static async Task<HttpResponseMessage> SendRequiredAsync(EdgeHost edge)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/1");
        request.Headers.Add("X-Tenant-ID", "acme");
        return await edge.Client.SendAsync(request);
    }

    [Fact]
    public async Task EdgeHost_SpoolPathUnusable_RefusesToStart()
    {
        using var backend = Backend.Start();
        var notADirectory = Path.GetTempFileName();
        try
        {
            // Recovery runs before Kestrel listens: an edge that cannot open its spool must not take traffic unaudited.
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
            {
                ["Edge:Audit:WriterUrl"] = "http://127.0.0.1:9/",
                ["Edge:Audit:SpoolPath"] = notADirectory,
            }));
            Assert.StartsWith($"Edge:Audit:SpoolPath: the spool directory '{notADirectory}' cannot be used", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(notADirectory);
        }
    }

    [Fact]
    public async Task GracefulShutdown_RecordsSpooledWhileWriterWasDown_AreDrainedBeforeExit()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        await writer.StopAppAsync();
        var edge = await EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
        });
        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await edge.Client.GetAsync($"/optional/{i}");
            ids.Add(response.Headers.GetValues("X-Request-Id").Single());
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await writer.StartAppAsync();
        output.WriteLine($"writer restarted after {clock.ElapsedMilliseconds} ms");
        await edge.DisposeAsync();
        output.WriteLine($"edge stopped (drained) after {clock.ElapsedMilliseconds} ms");

        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        var stored = store.Export(new RecordQuery()).Select(r => r.Id).ToHashSet();
        Assert.All(ids, id => Assert.Contains(id, stored));
    }

    [Fact]
    public async Task EdgeHost_SeveralWriterUrlsFirstDown_RecordsReachTheNextWriterAndMetricsNameIt()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        var down = $"http://127.0.0.1:{FreePort.Next()}";
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = $"{down}; {writer.BaseAddress}",
        });

        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/5");
        request.Headers.Add("X-Tenant-ID", "acme");
        using var response = await edge.Client.SendAsync(request);
        var requestId = response.Headers.GetValues("X-Request-Id").Single();

        var records = await WaitForRecordsAsync(writer, 2);
        var metrics = await edge.Management.GetStringAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(records, r => r.Id == requestId);
        Assert.Contains($"edge_audit_writer_current{{otel_scope_name=\"Edge.Audit\",writer=\"http://{writer.BaseAddress.Authority}\"}} 1", metrics, StringComparison.Ordinal);
        Assert.Contains($"edge_audit_writer_failovers_total{{otel_scope_name=\"Edge.Audit\",reason=\"transport\",writer=\"{down}\"}} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EdgeHost_MalformedWriterUrlEntry_RefusesToStartNamingIt()
    {
        using var backend = Backend.Start();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => EdgeHost.StartAsync(Config(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = "http://127.0.0.1:9/;writer-b:9902",
        }));

        Assert.Contains("Edge:Audit:WriterUrl entry 'writer-b:9902'", error.Message, StringComparison.Ordinal);
    }

    private static async Task<IReadOnlyList<StoredRecord>> WaitForRecordsAsync(WriterFixture writer, int count)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using (var store = AuditStore.OpenReadOnly(writer.StorePath))
            {
                var records = store.Export(new RecordQuery()).ToList();
                if (records.Count >= count)
                {
                    return records;
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The writer did not receive {count} records within 10 s.");
    }
}
