using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Shipping;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Tests;
using Edge.AuditWriter.Tests.Protection;
using Edge.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace Edge.FunctionalTests.Auditing;

/// <summary>
/// Two real writer processes on one real PostgreSQL; the sequencer is killed with SIGKILL while batches keep arriving.
/// The sender plays the edge's shipper: it keeps a batch until a writer acknowledges it and moves to the other writer on
/// a refused connection or <c>writer_standby</c> (the edge-side shipper with several writer URLs is tested on its own).
/// </summary>
public sealed class WriterFailoverTests(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private const int Batches = 120;
    private const int BatchSize = 20;
    private const int KillAfterBatch = 40;

    [Fact]
    public async Task Failover_SequencerKilledMidLoad_EveryAcknowledgedRecordStoredOnceAndCheckpointsConsistent()
    {
        var directory = Directory.CreateTempSubdirectory("edge-failover-").FullName;
        var connectionString = postgres.Server.ConnectionString(await postgres.Server.CreateDatabaseAsync());
        var ports = new[] { FreePort.Next(), FreePort.Next() };
        var proxyConfig = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(proxyConfig, $$"""
            {
              "ReverseProxy": { "Routes": {}, "Clusters": {} },
              "Edge": {
                "Authentication": { "auditors": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [
                  { "Sha256": "{{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("failover-auditor-key-0123456789"u8))}}", "Principal": "compliance", "Tenant": "ops", "Roles": [ "Auditor" ] } ] } },
                "Roles": { "Auditor": [ "audit.read.all" ] }
              }
            }
            """);
        ChildProcess Writer(int port) => new(ChildProcess.BuildOutput("Edge.AuditWriter"),
            "--urls", $"http://127.0.0.1:{port}", $"--Writer:Postgres={connectionString}",
            $"--Writer:ProxyConfigPath={proxyConfig}", "--Writer:Authentication=auditors",
            $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}", $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
            "--Writer:Origin=failover.test", "--Writer:CheckpointInterval=00:00:00.200", "--Serilog:MinimumLevel:Default=Warning");
        using var first = Writer(ports[0]);
        using var second = Writer(ports[1]);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Add("X-Api-Key", "failover-auditor-key-0123456789");
        first.Start();
        await WaitForRoleAsync(client, $"http://127.0.0.1:{ports[0]}", "sequencer", first);
        // Started after the first generated the shared keys; it stands by.
        second.Start();
        await WaitForRoleAsync(client, $"http://127.0.0.1:{ports[1]}", "standby", second);

        using var standbyAnswer = await PostBatchAsync(client, ports[1], [WriterFixture.Leaf("probe-on-standby", "acme")], 0);
        var standbyProblem = JsonDocument.Parse(await standbyAnswer.Content.ReadAsStringAsync()).RootElement;

        var sent = new List<string>();
        var acked = new List<string>();
        var target = 0;
        string? beforeKill = null;
        string[] tilePaths = [];
        var tilesBeforeKill = new List<byte[]>();
        var killedAt = TimeSpan.Zero;
        TimeSpan? firstAppendAfterKill = null;
        var clock = Stopwatch.StartNew();
        for (var batch = 0; batch < Batches; batch++)
        {
            if (batch == KillAfterBatch)
            {
                beforeKill = await client.GetStringAsync($"http://127.0.0.1:{ports[0]}/audit/checkpoint");
                var signedSize = SignedNote.Open(beforeKill, [NoteVerifier.Parse(File.ReadAllText(Path.Combine(directory, "writer.key.pub")).Trim())]).Checkpoint!.Size;
                tilePaths = ["/tile/0/000", RightEdgeTile(signedSize), "/tile/1/000.p/" + (signedSize / 256).ToString(CultureInfo.InvariantCulture)];
                foreach (var path in tilePaths)
                {
                    tilesBeforeKill.Add(await client.GetByteArrayAsync($"http://127.0.0.1:{ports[0]}{path}"));
                }

                first.KillHard();
                killedAt = clock.Elapsed;
            }

            var leaves = Enumerable.Range(0, BatchSize).Select(i => WriterFixture.Leaf($"b{batch}-{i}", i % 2 == 0 ? "acme" : "globex")).ToList();
            sent.AddRange(leaves.Select((_, i) => $"b{batch}-{i}"));
            var deadline = clock.Elapsed + TimeSpan.FromSeconds(30);
            while (true)
            {
                Assert.True(clock.Elapsed < deadline, $"batch {batch} was not acknowledged within 30 s.\n{second.RecentOutput}");
                try
                {
                    using var response = await PostBatchAsync(client, ports[target], leaves, batch + 1);
                    if (response.IsSuccessStatusCode)
                    {
                        acked.AddRange(leaves.Select((_, i) => $"b{batch}-{i}"));
                        if (batch >= KillAfterBatch && firstAppendAfterKill is null)
                        {
                            firstAppendAfterKill = clock.Elapsed - killedAt;
                        }

                        break;
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                }

                // Refused, standby or failed: the batch stays with the sender, which tries the other writer.
                target = 1 - target;
                await Task.Delay(50);
            }
        }

        var after = await WaitForCheckpointAsync(client, ports[1], Batches * BatchSize);
        var key = NoteVerifier.Parse(File.ReadAllText(Path.Combine(directory, "writer.key.pub")).Trim());
        var signedBefore = SignedNote.Open(beforeKill!, [key]);
        var signedAfter = SignedNote.Open(after, [key]);
        var proof = JsonDocument.Parse(await client.GetStringAsync(
                $"http://127.0.0.1:{ports[1]}/audit/proof/consistency?from={signedBefore.Checkpoint!.Size}&to={signedAfter.Checkpoint!.Size}"))
            .RootElement.GetProperty("proof").EnumerateArray().Select(h => Convert.FromBase64String(h.GetString()!)).ToList();
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

        output.WriteLine($"failover: kill -9 -> first acknowledged batch on the standby in {firstAppendAfterKill?.TotalMilliseconds:F0} ms; checkpoint {signedBefore.Checkpoint.Size} -> {signedAfter.Checkpoint.Size}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, standbyAnswer.StatusCode);
        Assert.Equal("writer_standby", standbyProblem.GetProperty("code").GetString());
        Assert.Equal(sent.Count, acked.Count);
        Assert.All(acked, id => Assert.Equal(1, stored.GetValueOrDefault(id)));
        Assert.Equal(sent.Count, stored.Count);
        Assert.DoesNotContain("probe-on-standby", stored.Keys);
        Assert.True(signedBefore.Valid && signedAfter.Valid);
        Assert.True(signedBefore.Checkpoint.Size > 0);
        Assert.True(Rfc9162.VerifyConsistency(signedBefore.Checkpoint.Size, signedAfter.Checkpoint.Size, signedBefore.Checkpoint.Root, signedAfter.Checkpoint.Root, proof));
        Assert.True(firstAppendAfterKill < TimeSpan.FromSeconds(5), $"failover took {firstAppendAfterKill}");
        // The new leader's tiles (built by the old one before the kill, extended by itself after) serve the bytes the old
        // leader served for the same size.
        Assert.True(signedBefore.Checkpoint.Size >= 256, $"checkpoint before the kill at {signedBefore.Checkpoint.Size}");
        Assert.Equal(3, tilesBeforeKill.Count);
        for (var i = 0; i < tilePaths.Length; i++)
        {
            Assert.Equal(tilesBeforeKill[i], await client.GetByteArrayAsync($"http://127.0.0.1:{ports[1]}{tilePaths[i]}"));
        }

        using var opened = PostgresAuditStore.OpenReadOnly(connectionString);
        var report = LogVerifier.VerifyStore(opened, [key]);
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(Batches * BatchSize, report.RecordsChecked);
        Assert.Equal(Batches * BatchSize, opened.TiledSize());
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The level-0 tile holding the last leaf of a tree of <paramref name="size"/> leaves (size below 256,000), at that width.</summary>
    private static string RightEdgeTile(long size)
    {
        var index = (size - 1) / 256;
        var width = size - index * 256;
        var path = "/tile/0/" + index.ToString("000", CultureInfo.InvariantCulture);
        return width == 256 ? path : path + ".p/" + width.ToString(CultureInfo.InvariantCulture);
    }

    private static async Task<HttpResponseMessage> PostBatchAsync(HttpClient client, int port, IReadOnlyList<byte[]> leaves, long lastSequence)
    {
        var content = new ByteArrayContent(leaves.SelectMany(l => l.Append((byte)'\n')).ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue(IngestProtocol.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}{IngestProtocol.Path}") { Content = content };
        request.Headers.Add(IngestProtocol.LastSequenceHeader, lastSequence.ToString(CultureInfo.InvariantCulture));
        return await client.SendAsync(request);
    }

    /// <summary>
    /// Polls a writer's /readyz until it reports <paramref name="role"/> (sequencer or standby); 60 s at most, as a
    /// writer child process on a CI host at load 20 and more took over 30 s to get there.
    /// </summary>
    internal static async Task WaitForRoleAsync(HttpClient client, string writer, string role, ChildProcess process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var lastSeen = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var answer = await client.GetStringAsync($"{writer}/readyz");
                var ready = JsonDocument.Parse(answer).RootElement;
                if (ready.GetProperty("role").GetString() == role)
                {
                    return;
                }

                lastSeen = answer;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                lastSeen = exception.GetType().Name + ": " + exception.Message;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the writer at {writer} did not become {role}; last /readyz: {lastSeen}\n{process.RecentOutput}");
    }

    private static async Task<string> WaitForCheckpointAsync(HttpClient client, int port, long size)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var note = await client.GetStringAsync($"http://127.0.0.1:{port}/audit/checkpoint");
            if (note.Split('\n')[1] == size.ToString(CultureInfo.InvariantCulture))
            {
                return note;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no checkpoint at size {size}");
    }
}
