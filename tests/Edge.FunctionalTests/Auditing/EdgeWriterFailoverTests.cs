using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Tests.Protection;
using Edge.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Edge.FunctionalTests.Auditing;

/// <summary>
/// The whole chain through a failover: clients, a real edge process (Kestrel, WireMock backend) whose shipper knows two
/// writer processes on one real PostgreSQL. The sequencer is killed with SIGKILL while requests keep flowing; every
/// request a client got an answer for must be in the store exactly once. With the standby first in
/// <c>Edge:Audit:WriterUrl</c> the edge meets <c>writer_standby</c> before the kill; with the sequencer first it wraps
/// round to the standby after it.
/// </summary>
public sealed class EdgeWriterFailoverTests(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private const int Concurrency = 8;
    private const int KillAfterResponses = 1_000;
    private const int ResponsesAfterTakeover = 1_000;
    private const string AuditorKey = "edge-failover-auditor-key-0123456789";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task EdgeShipping_SequencerKilledMidLoad_EveryAnsweredRequestStoredOnceAndCheckpointsConsistent(bool standbyFirst)
    {
        var directory = Directory.CreateTempSubdirectory("edge-e2e-failover-").FullName;
        var connectionString = postgres.Server.ConnectionString(await postgres.Server.CreateDatabaseAsync());
        using var backend = Backend.Start();
        var (sequencerPort, standbyPort, edgePort, managementPort) = (FreePort.Next(), FreePort.Next(), FreePort.Next(), FreePort.Next());
        var writerConfig = Path.Combine(directory, "writer-proxy.json");
        await File.WriteAllTextAsync(writerConfig, $$"""
            {
              "ReverseProxy": { "Routes": {}, "Clusters": {} },
              "Edge": {
                "Authentication": { "auditors": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [
                  { "Sha256": "{{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(AuditorKey)))}}", "Principal": "compliance", "Tenant": "ops", "Roles": [ "Auditor" ] } ] } },
                "Roles": { "Auditor": [ "audit.read.all" ] }
              }
            }
            """);
        var edgeConfig = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(edgeConfig, ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["load"] = ProxyJson.Route("/load/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));
        ChildProcess Writer(int port) => new(ChildProcess.BuildOutput("Edge.AuditWriter"),
            "--urls", $"http://127.0.0.1:{port}", $"--Writer:Postgres={connectionString}",
            $"--Writer:ProxyConfigPath={writerConfig}", "--Writer:Authentication=auditors",
            $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}", $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
            "--Writer:Origin=edge-failover.test", "--Writer:CheckpointInterval=00:00:00.200", "--Serilog:MinimumLevel:Default=Warning");
        using var sequencer = Writer(sequencerPort);
        using var standby = Writer(standbyPort);
        var sequencerUrl = $"http://127.0.0.1:{sequencerPort}";
        var standbyUrl = $"http://127.0.0.1:{standbyPort}";
        // Standby first: the edge's first post meets writer_standby and has to move on before the kill.
        var writerUrls = standbyFirst ? $"{standbyUrl};{sequencerUrl}" : $"{sequencerUrl};{standbyUrl}";
        using var edge = new ChildProcess(ChildProcess.BuildOutput("Edge.Proxy"),
            "--urls", $"http://127.0.0.1:{edgePort}", $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort}",
            $"--Edge:ProxyConfigPath={edgeConfig}", $"--Edge:Audit:WriterUrl={writerUrls}",
            $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}", "--Edge:InstanceId=e2e-failover-edge",
            "--Serilog:MinimumLevel:Default=Warning");
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        probe.DefaultRequestHeaders.Add("X-Api-Key", AuditorKey);

        sequencer.Start();
        await WriterFailoverTests.WaitForRoleAsync(probe, sequencerUrl, "sequencer", sequencer);
        // Started after the first generated the shared signing and subject keys; it stands by.
        standby.Start();
        await WriterFailoverTests.WaitForRoleAsync(probe, standbyUrl, "standby", standby);
        edge.Start();
        await WaitHealthyAsync(probe, $"http://127.0.0.1:{managementPort}/healthz", edge);

        var answered = new ConcurrentBag<string>();
        var unexpected = new ConcurrentBag<string>();
        var transportFailures = 0;
        var responses = 0;
        var stopAfter = int.MaxValue;
        var clock = Stopwatch.StartNew();
        var loadDeadline = TimeSpan.FromSeconds(40);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Concurrency })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{edgePort}"),
            Timeout = TimeSpan.FromSeconds(10),
        };

        async Task WorkerAsync(int worker)
        {
            for (var i = worker; Volatile.Read(ref responses) < Volatile.Read(ref stopAfter) && clock.Elapsed < loadDeadline; i += Concurrency)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/load/{i}");
                request.Headers.Add("X-Tenant-ID", i % 2 == 0 ? "acme" : "globex");
                try
                {
                    using var response = await client.SendAsync(request);
                    await response.Content.ReadAsByteArrayAsync();
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        unexpected.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }

                    answered.Add(response.Headers.GetValues("X-Request-Id").Single());
                    Interlocked.Increment(ref responses);
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref transportFailures);
                    await Task.Delay(20);
                }
            }
        }

        string? beforeKill = null;
        string? metricsBeforeKill = null;
        var killedAt = TimeSpan.Zero;
        var takeover = TimeSpan.Zero;
        var answeredAtKill = 0;

        async Task FailoverAsync()
        {
            while (Volatile.Read(ref responses) < KillAfterResponses && clock.Elapsed < loadDeadline)
            {
                await Task.Delay(10);
            }

            // The last checkpoint the old sequencer signed: the survivor's first ones must extend it.
            beforeKill = await WaitForSignedCheckpointAsync(probe, sequencerUrl);
            metricsBeforeKill = await probe.GetStringAsync($"http://127.0.0.1:{managementPort}/metrics");
            answeredAtKill = Volatile.Read(ref responses);
            killedAt = clock.Elapsed;
            sequencer.KillHard();
            await WriterFailoverTests.WaitForRoleAsync(probe, standbyUrl, "sequencer", standby);
            takeover = clock.Elapsed - killedAt;
            Volatile.Write(ref stopAfter, Volatile.Read(ref responses) + ResponsesAfterTakeover);
        }

        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(WorkerAsync).Append(FailoverAsync()));
        var loadTime = clock.Elapsed;

        // Everything answered is durable in the edge's spool; the shipper backs off at most 2 s between rounds.
        var answeredSet = answered.ToHashSet(StringComparer.Ordinal);
        var stored = await WaitForStoredAsync(connectionString, answeredSet, TimeSpan.FromSeconds(20));
        var missing = answeredSet.Where(id => !stored.ContainsKey(id)).ToList();
        var metricsAfter = await probe.GetStringAsync($"http://127.0.0.1:{managementPort}/metrics");
        var after = await WaitForCheckpointOfStoreAsync(probe, standbyUrl, connectionString);
        var key = NoteVerifier.Parse(File.ReadAllText(Path.Combine(directory, "writer.key.pub")).Trim());
        var signedBefore = SignedNote.Open(beforeKill!, [key]);
        var signedAfter = SignedNote.Open(after, [key]);
        var proof = JsonDocument.Parse(await probe.GetStringAsync(
                $"{standbyUrl}/audit/proof/consistency?from={signedBefore.Checkpoint!.Size}&to={signedAfter.Checkpoint!.Size}"))
            .RootElement.GetProperty("proof").EnumerateArray().Select(h => Convert.FromBase64String(h.GetString()!)).ToList();

        output.WriteLine($"standby first: {standbyFirst}; {answeredSet.Count} answered ({answeredAtKill} before the kill), {transportFailures} transport failures, "
            + $"{stored.Count} records stored, load {loadTime.TotalSeconds:F1} s; kill -9 -> standby sequencing in {takeover.TotalMilliseconds:F0} ms; "
            + $"checkpoint {signedBefore.Checkpoint.Size} -> {signedAfter.Checkpoint.Size}");
        Assert.Empty(unexpected);
        Assert.Equal(0, transportFailures);
        Assert.Equal(answered.Count, answeredSet.Count);
        Assert.True(answeredSet.Count >= KillAfterResponses + ResponsesAfterTakeover, $"only {answeredSet.Count} answered in {loadTime}");
        Assert.True(missing.Count == 0, $"{missing.Count} answered requests have no audit record, e.g. {missing.FirstOrDefault()}\n{edge.RecentOutput}\n{standby.RecentOutput}");
        Assert.All(answeredSet, id => Assert.Equal(1, stored[id]));
        Assert.All(stored, entry => Assert.Equal(1, entry.Value));
        // No client saw a transport failure, so no request records exist beyond the answered ones.
        Assert.Equal(answeredSet.Count, await CountRequestRecordsAsync(connectionString));

        if (standbyFirst)
        {
            // The standby answered writer_standby before the failover: the edge left it for that reason before the kill.
            Assert.True(FailoverCount(metricsBeforeKill!, standbyUrl, "standby") >= 1, metricsBeforeKill);
        }

        Assert.True(FailoverCount(metricsAfter, sequencerUrl, "transport") >= 1, metricsAfter);

        Assert.True(signedBefore.Valid && signedAfter.Valid);
        Assert.True(signedBefore.Checkpoint.Size > 0);
        Assert.True(signedAfter.Checkpoint.Size > signedBefore.Checkpoint.Size);
        Assert.True(Rfc9162.VerifyConsistency(signedBefore.Checkpoint.Size, signedAfter.Checkpoint.Size, signedBefore.Checkpoint.Root, signedAfter.Checkpoint.Root, proof));
        Assert.True(takeover < TimeSpan.FromSeconds(10), $"takeover took {takeover}");
        using (var opened = PostgresAuditStore.OpenReadOnly(connectionString))
        {
            var report = LogVerifier.VerifyStore(opened, [key]);
            Assert.True(report.Valid, report.Problem);
            Assert.Equal(stored.Count, report.RecordsChecked);
        }

        await edge.StopAsync(TimeSpan.FromSeconds(15));
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The edge's Prometheus counter edge_audit_writer_failovers_total for one writer and reason (0 when absent).</summary>
    private static double FailoverCount(string metrics, string writer, string reason) => metrics.Split('\n')
        .Where(line => line.StartsWith("edge_audit_writer_failovers_total{", StringComparison.Ordinal)
            && line.Contains($"reason=\"{reason}\"", StringComparison.Ordinal) && line.Contains($"writer=\"{writer}\"", StringComparison.Ordinal))
        .Select(line => double.Parse(line[(line.IndexOf('}', StringComparison.Ordinal) + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture))
        .Sum();

    private static async Task<Dictionary<string, long>> WaitForStoredAsync(string connectionString, IReadOnlySet<string> expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var stored = new Dictionary<string, long>(StringComparer.Ordinal);
            await using (var connection = new NpgsqlConnection(connectionString))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT record_id, COUNT(*) FROM audit_records GROUP BY record_id", connection);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    stored[reader.GetString(0)] = reader.GetInt64(1);
                }
            }

            if (expected.All(stored.ContainsKey) || DateTime.UtcNow > deadline)
            {
                return stored;
            }

            await Task.Delay(200);
        }
    }

    private static async Task<long> CountRequestRecordsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM audit_records WHERE route = 'load'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<long> CountRecordsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM audit_records", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<string> WaitForSignedCheckpointAsync(HttpClient probe, string writer)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var note = await probe.GetStringAsync($"{writer}/audit/checkpoint");
            if (note.Split('\n')[1] != "0")
            {
                return note;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{writer} signed no checkpoint over a non-empty tree");
    }

    /// <summary>Waits until the writer's latest checkpoint covers every record in the store.</summary>
    private static async Task<string> WaitForCheckpointOfStoreAsync(HttpClient probe, string writer, string connectionString)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var size = await CountRecordsAsync(connectionString);
            var note = await probe.GetStringAsync($"{writer}/audit/checkpoint");
            if (note.Split('\n')[1] == size.ToString(CultureInfo.InvariantCulture))
            {
                return note;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{writer} signed no checkpoint over the whole store");
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
