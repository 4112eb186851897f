using System.Collections.Concurrent;
using System.Net;
using Edge.Audit.Checkpoints;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.Testing;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Edge.FunctionalTests.Auditing;

public sealed class ZeroLossTests(ITestOutputHelper output)
{
    private const int TargetResponses = 10_000;
    private const int Concurrency = 16;

    [Fact]
    public async Task Audit_WriterKilledTwiceAndEdgeKilledOnce_EveryAnsweredRequestIsStoredExactlyOnce()
    {
        var directory = Directory.CreateTempSubdirectory("edge-zero-loss-").FullName;
        using var backend = Backend.Start();
        var edgePort = FreePort.Next();
        var managementPort = FreePort.Next();
        var writerPort = FreePort.Next();
        var storePath = Path.Combine(directory, "audit.db");
        var keyPath = Path.Combine(directory, "writer.key");
        var configPath = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(configPath, ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["load"] = ProxyJson.Route("/load/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));

        using var writer = new ChildProcess(ChildProcess.BuildOutput("Edge.AuditWriter"),
            "--urls", $"http://127.0.0.1:{writerPort}", $"--Writer:StorePath={storePath}", $"--Writer:KeyPath={keyPath}", $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
            "--Writer:Origin=zero-loss.test", "--Serilog:MinimumLevel:Default=Warning");
        using var edge = new ChildProcess(ChildProcess.BuildOutput("Edge.Proxy"),
            "--urls", $"http://127.0.0.1:{edgePort}", $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort}",
            $"--Edge:ProxyConfigPath={configPath}", $"--Edge:Audit:WriterUrl=http://127.0.0.1:{writerPort}/",
            $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}", "--Edge:InstanceId=zero-loss-edge",
            "--Serilog:MinimumLevel:Default=Warning");
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        writer.Start();
        edge.Start();
        await WaitHealthyAsync(probe, $"http://127.0.0.1:{writerPort}/audit/checkpoint", writer);
        await WaitHealthyAsync(probe, $"http://127.0.0.1:{managementPort}/healthz", edge);

        var answered = new ConcurrentBag<string>();
        var transportFailures = 0;
        var responses = 0;
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Concurrency })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{edgePort}"),
            Timeout = TimeSpan.FromSeconds(10),
        };

        async Task WorkerAsync(int worker)
        {
            for (var i = worker; Volatile.Read(ref responses) < TargetResponses; i += Concurrency)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/load/{i}");
                if (i % 10 != 0)
                {
                    // Every tenth request is denied (no tenant): denials are audited too.
                    request.Headers.Add("X-Tenant-ID", "acme");
                }

                try
                {
                    using var response = await client.SendAsync(request);
                    await response.Content.ReadAsByteArrayAsync();
                    Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"unexpected {response.StatusCode}");
                    answered.Add(response.Headers.GetValues("X-Request-Id").Single());
                    Interlocked.Increment(ref responses);
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or System.Net.Sockets.SocketException or IOException)
                {
                    // No response: the edge was down (or killed mid-request). Such a request may or may not be audited.
                    // A connection the dying edge accepted and reset at once surfaces as a bare SocketException from
                    // SocketsHttpHandler's connect (Socket.RemoteEndPoint), not wrapped in HttpRequestException.
                    Interlocked.Increment(ref transportFailures);
                    await Task.Delay(20);
                }
            }
        }

        async Task ChaosAsync()
        {
            await WaitForResponsesAsync(() => responses, 2_000);
            writer.KillHard();
            await Task.Delay(1_000);
            writer.Start();
            await WaitForResponsesAsync(() => responses, 4_500);
            edge.KillHard();
            edge.Start();
            await WaitHealthyAsync(probe, $"http://127.0.0.1:{managementPort}/healthz", edge);
            await WaitForResponsesAsync(() => responses, 7_000);
            writer.KillHard();
            await Task.Delay(1_000);
            writer.Start();
        }

        var started = DateTime.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(WorkerAsync).Append(ChaosAsync()));
        await WaitHealthyAsync(probe, $"http://127.0.0.1:{writerPort}/audit/checkpoint", writer);

        // Graceful stop drains the spool; then the writer signs a final checkpoint on its way down.
        await edge.StopAsync(TimeSpan.FromSeconds(30));
        await writer.StopAsync(TimeSpan.FromSeconds(30));
        SqliteConnection.ClearAllPools();

        List<string> stored;
        VerificationReport report;
        using (var store = AuditStore.OpenReadOnly(storePath))
        {
            stored = store.Export(new RecordQuery()).Select(r => r.Id).ToList();
            report = LogVerifier.VerifyStore(store, [NoteVerifier.Parse(File.ReadAllText(keyPath + ".pub"))]);
        }

        output.WriteLine($"{answered.Count} answered, {transportFailures} transport failures, {stored.Count} stored, {(DateTime.UtcNow - started).TotalSeconds:F1} s");
        var answeredSet = answered.ToHashSet();
        var storedSet = stored.ToHashSet();
        Assert.Equal(answered.Count, answeredSet.Count);
        Assert.True(answered.Count >= TargetResponses);
        Assert.Equal(stored.Count, storedSet.Count);
        var missing = answeredSet.Except(storedSet).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} answered requests have no audit record, e.g. {missing.FirstOrDefault()}\n{edge.RecentOutput}\n{writer.RecentOutput}");
        // A record without a response can only belong to a request in flight when the edge was killed (durable before
        // the response started, connection cut before it arrived); each such request shows up as a transport failure.
        var unanswered = storedSet.Except(answeredSet).Count();
        Assert.True(unanswered <= transportFailures, $"{unanswered} stored records without a response but only {transportFailures} failed requests");
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(stored.Count, report.RecordsChecked);
        Directory.Delete(directory, recursive: true);
    }

    private static async Task WaitForResponsesAsync(Func<int> responses, int count)
    {
        while (responses() < count)
        {
            await Task.Delay(10);
        }
    }

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

        throw new TimeoutException($"{url} did not become healthy.\n{process.RecentOutput}");
    }
}
