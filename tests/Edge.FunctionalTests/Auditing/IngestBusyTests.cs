using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Edge.Audit.Storage;
using Edge.Testing;
using Microsoft.Data.Sqlite;

namespace Edge.FunctionalTests.Auditing;

/// <summary>
/// A real edge process shipping to a real writer process whose only ingest slot (Writer:MaxConcurrentIngests=1) another
/// sender holds with a slow body: the edge's posts are answered 503 ingest_busy, and once the slot is free every
/// answered request is stored, once.
/// </summary>
public sealed partial class IngestBusyTests
{
    private const int Requests = 300;

    [Fact]
    public async Task EdgeShipping_WriterBusyWithASlowSender_EveryAnsweredRequestStoredOnceAfterwards()
    {
        var directory = Directory.CreateTempSubdirectory("edge-ingest-busy-").FullName;
        using var backend = Backend.Start();
        var (edgePort, managementPort, writerPort) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        var storePath = Path.Combine(directory, "audit.db");
        var configPath = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(configPath, ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["load"] = ProxyJson.Route("/load/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));
        using var writer = new ChildProcess(ChildProcess.BuildOutput("Edge.AuditWriter"),
            "--urls", $"http://127.0.0.1:{writerPort}", $"--Writer:StorePath={storePath}", $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}",
            $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}", "--Writer:Origin=ingest-busy.test",
            "--Writer:MaxConcurrentIngests=1", "--Serilog:MinimumLevel:Default=Warning");
        using var edge = new ChildProcess(ChildProcess.BuildOutput("Edge.Proxy"),
            "--urls", $"http://127.0.0.1:{edgePort}", $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort}",
            $"--Edge:ProxyConfigPath={configPath}", $"--Edge:Audit:WriterUrl=http://127.0.0.1:{writerPort}/",
            $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}", "--Edge:InstanceId=ingest-busy-edge",
            "--Serilog:MinimumLevel:Default=Warning");
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        writer.Start();
        await WaitHealthyAsync(probe, $"http://127.0.0.1:{writerPort}/audit/checkpoint", writer);

        // Holds the writer's one slot: a body announced large and trickled faster than Kestrel's minimum data rate.
        using var slowSender = new TcpClient();
        await slowSender.ConnectAsync("127.0.0.1", writerPort);
        var slowStream = slowSender.GetStream();
        await slowStream.WriteAsync(Encoding.Latin1.GetBytes("POST /audit/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Content-Type: application/x-ndjson\r\nEdge-Audit-Last-Sequence: 1\r\nContent-Length: 30000000\r\n\r\n"));
        using var stopTrickle = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            var spaces = Encoding.ASCII.GetBytes(new string(' ', 1000));
            while (!stopTrickle.IsCancellationRequested)
            {
                await slowStream.WriteAsync(spaces, stopTrickle.Token);
                await Task.Delay(200, stopTrickle.Token);
            }
        });

        edge.Start();
        await WaitHealthyAsync(probe, $"http://127.0.0.1:{managementPort}/healthz", edge);
        var answered = new ConcurrentBag<string>();
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{edgePort}"), Timeout = TimeSpan.FromSeconds(10) })
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(async worker =>
            {
                for (var i = worker; i < Requests; i += 4)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, $"/load/{i}");
                    request.Headers.Add("X-Tenant-ID", "acme");
                    using var response = await client.SendAsync(request);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    answered.Add(response.Headers.GetValues("X-Request-Id").Single());
                }
            }));
        }

        // The edge met the busy writer (more than once: it retries on the same writer, there is no other).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (BusyCount(await probe.GetStringAsync($"http://127.0.0.1:{writerPort}/metrics")) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True(BusyCount(await probe.GetStringAsync($"http://127.0.0.1:{writerPort}/metrics")) >= 2, writer.RecentOutput);
        await stopTrickle.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => trickle);
        slowSender.Dispose();

        // A graceful stop drains the spool into the writer, now free.
        await edge.StopAsync(TimeSpan.FromSeconds(30));
        await writer.StopAsync(TimeSpan.FromSeconds(30));
        SqliteConnection.ClearAllPools();
        List<string> stored;
        using (var store = AuditStore.OpenReadOnly(storePath))
        {
            stored = store.Export(new RecordQuery()).Select(r => r.Id).ToList();
        }

        Assert.Equal(Requests, answered.Count);
        Assert.Equal(stored.Count, stored.Distinct().Count());
        var missing = answered.Except(stored).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} answered requests have no audit record\n{edge.RecentOutput}\n{writer.RecentOutput}");
        Directory.Delete(directory, recursive: true);
    }

    private static long BusyCount(string scrape) =>
        BusyLine().Match(scrape) is { Success: true } match ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;

    [GeneratedRegex(@"^edge_audit_ingest_busy_total(?:\{[^}]*\})? (\d+)", RegexOptions.Multiline)]
    private static partial Regex BusyLine();

    private static async Task WaitHealthyAsync(HttpClient probe, string url, ChildProcess process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await probe.GetAsync(url);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(50);
        }

        Assert.Fail($"{url} did not become healthy\n{process.RecentOutput}");
    }
}
