using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Edge.Audit.Checkpoints;
using Edge.AuditWriter.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Cli.Tests.Audit;

public sealed class AuditProveCommandTests
{
    private static async Task<WriterFixture> WriterWithRecordsAsync(int count)
    {
        var writer = await WriterFixture.StartAsync();
        var leaves = Enumerable.Range(0, count).Select(i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex")).ToList();
        using var response = await writer.IngestAsync(leaves, count);
        response.EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(count);
        return writer;
    }

    private static Task<(int ExitCode, string Output, string Error)> ProveAsync(Uri url, string apiKey, string id, string key)
    {
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, apiKey);
        return CliRunner.RunAsync("audit", "prove", "--url", url.ToString(), "--api-key-env", envName, "--id", id, "--key", key);
    }

    [Fact]
    public async Task Prove_UntouchedRecord_ExitsZeroAndSaysWhatItChecked()
    {
        await using var writer = await WriterWithRecordsAsync(21);

        var (exitCode, output, error) = await ProveAsync(writer.BaseAddress, WriterFixture.GlobalAuditorKey, "r13", writer.KeyPath + ".pub");

        Assert.True(exitCode == 0, error + output);
        Assert.Contains("size 21", output, StringComparison.Ordinal);
        Assert.Contains("signature OK", output, StringComparison.Ordinal);
        Assert.Contains("index 13", output, StringComparison.Ordinal);
        Assert.Contains("OK: record r13 (index 13) is included in the signed checkpoint of size 21", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_RecordNestedAsDeepAsIngestTakes_ExitsZero()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([WriterFixture.Leaf("plain", "acme"), AuditCommandsTests.DeepLeaf("deep")], 2)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(2);

        var (exitCode, output, error) = await ProveAsync(writer.BaseAddress, WriterFixture.GlobalAuditorKey, "deep", writer.KeyPath + ".pub");

        // Before, exit 1 "FAIL: the writer's answer is malformed" (the log must not be trusted) for a record the writer
        // stored, served and `verify --store` verified: the page's depth was past the JSON reader's default of 64.
        Assert.True(exitCode == 0, error + output);
        Assert.Contains("OK: record deep (index 1) is included in the signed checkpoint of size 2", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_PrunedRecord_ProvesItsLeafHashAndSaysTheContentIsGone()
    {
        await using var writer = await WriterWithRecordsAsync(21);
        using (var connection = new SqliteConnection($"Data Source={writer.StorePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE records SET leaf = X'', principal = NULL WHERE idx = 13";
            command.ExecuteNonQuery();
        }

        var (exitCode, output, error) = await ProveAsync(writer.BaseAddress, WriterFixture.GlobalAuditorKey, "r13", writer.KeyPath + ".pub");

        Assert.True(exitCode == 0, error + output);
        Assert.Contains("pruned (retention or erasure)", output, StringComparison.Ordinal);
        Assert.Contains("OK: the leaf hash of pruned record r13 (index 13) is included in the signed checkpoint of size 21", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_RecordErasedOnArrival_ProvesItAndTheLogStaysConsistentAndVerifies()
    {
        await using var writer = await WriterWithRecordsAsync(3);
        var old = Path.Combine(writer.Directory, "old.txt");
        using (var client = writer.Client())
        {
            await File.WriteAllTextAsync(old, await client.GetStringAsync("/audit/checkpoint"));
        }

        // A record made before its principal's erasure, delivered after it (an edge's spool backlog).
        var madeBefore = DateTimeOffset.UtcNow.AddSeconds(-10);
        using (var dpo = writer.Client(WriterFixture.GlobalEraserKey))
        using (var erasure = await dpo.PostAsync("/audit/erasure", new StringContent("{\"subject\":\"erin\"}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, erasure.StatusCode);
        }

        var backlog = Edge.Audit.Records.AuditRecordSerializer.Serialize(new Edge.Audit.Records.AuditRecord
        {
            Id = "backlog", Time = madeBefore, Instance = "edge-test", Tenant = "acme", Decision = "allow", Route = "orders", Method = "GET",
            Path = "/orders/7", Status = 200, Subject = new Edge.Audit.Records.AuditSubject { Principal = "erin", ClientIp = "203.0.113.9" },
        });
        (await writer.IngestAsync([backlog], 4)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(5);
        using (var auditor = writer.Client(WriterFixture.GlobalAuditorKey))
        {
            var record = JsonDocument.Parse(await auditor.GetStringAsync("/audit/records?id=backlog")).RootElement.GetProperty("records")[0];
            Assert.Equal("{\"protection\":\"erased\"}", record.GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
        }

        var (exitCode, output, error) = await ProveAsync(writer.BaseAddress, WriterFixture.GlobalAuditorKey, "backlog", writer.KeyPath + ".pub");
        var envName = "EDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(envName, WriterFixture.GlobalAuditorKey);
        var consistency = await CliRunner.RunAsync("audit", "consistency", "--url", writer.BaseAddress.ToString(), "--api-key-env", envName, "--old", old, "--key", writer.KeyPath + ".pub");
        await writer.StopAppAsync();
        var verify = await CliRunner.RunAsync("audit", "verify", "--store", writer.StorePath, "--key", writer.KeyPath + ".pub");

        Assert.True(exitCode == 0, error + output);
        Assert.Contains("OK: record backlog (index 4) is included in the signed checkpoint of size 5", output, StringComparison.Ordinal);
        Assert.True(consistency.ExitCode == 0, consistency.Error + consistency.Output);
        Assert.Contains("OK: the signed log of size 5 extends the signed log of size 3", consistency.Output, StringComparison.Ordinal);
        Assert.True(verify.ExitCode == 0, verify.Error + verify.Output);
        Assert.StartsWith("OK: 5 records", verify.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_RecordBytesChangedInStore_ExitsOne()
    {
        await using var writer = await WriterWithRecordsAsync(21);
        using (var connection = new SqliteConnection($"Data Source={writer.StorePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                DROP TRIGGER records_prune_only;
                UPDATE records SET leaf = CAST(replace(CAST(leaf AS TEXT), '"decision":"allow"', '"decision":"allaw"') AS BLOB) WHERE idx = 13;
                """;
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var (exitCode, output, _) = await ProveAsync(writer.BaseAddress, WriterFixture.GlobalAuditorKey, "r13", writer.KeyPath + ".pub");

        Assert.Equal(1, exitCode);
        Assert.Contains("FAIL: the root computed from the record", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("drop")]
    [InlineData("swap-id")]
    public async Task Prove_WriterAnswerAlteredInTransit_ExitsOne(string alteration)
    {
        await using var writer = await WriterWithRecordsAsync(21);
        await using var relay = await AlteringRelay.StartAsync(writer.BaseAddress, alteration);

        var (exitCode, output, error) = await ProveAsync(relay.BaseAddress, WriterFixture.GlobalAuditorKey, "r13", writer.KeyPath + ".pub");

        Assert.True(exitCode == 1, error + output);
        Assert.Contains("FAIL", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_CheckpointSignedByAnotherKey_ExitsOne()
    {
        await using var writer = await WriterWithRecordsAsync(5);
        using var other = NoteSigner.Generate("test.edge/audit");

        var (exitCode, output, _) = await ProveAsync(writer.BaseAddress, WriterFixture.GlobalAuditorKey, "r1", other.Verifier.ToString());

        Assert.Equal(1, exitCode);
        Assert.Contains("FAIL: checkpoint signature", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_TenantAuditor_ProvesOwnRecordButNotAnotherTenants()
    {
        await using var writer = await WriterWithRecordsAsync(10);

        var own = await ProveAsync(writer.BaseAddress, WriterFixture.AcmeAuditorKey, "r4", writer.KeyPath + ".pub");
        var other = await ProveAsync(writer.BaseAddress, WriterFixture.AcmeAuditorKey, "r5", writer.KeyPath + ".pub");

        Assert.True(own.ExitCode == 0, own.Error + own.Output);
        Assert.Equal(3, other.ExitCode);
        Assert.Contains("no record with id 'r5' is visible", other.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_UnknownIdOrNoCredentials_ExitsThree()
    {
        await using var writer = await WriterWithRecordsAsync(3);

        var unknown = await ProveAsync(writer.BaseAddress, WriterFixture.GlobalAuditorKey, "no-such-id", writer.KeyPath + ".pub");
        var anonymous = await ProveAsync(writer.BaseAddress, "", "r1", writer.KeyPath + ".pub");

        Assert.Equal(3, unknown.ExitCode);
        Assert.Equal(3, anonymous.ExitCode);
        Assert.Contains("401", anonymous.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_WriterUnreachable_ExitsThree()
    {
        await using var writer = await WriterWithRecordsAsync(1);
        var address = writer.BaseAddress;
        var key = await File.ReadAllTextAsync(writer.KeyPath + ".pub");
        await writer.StopAppAsync();

        var (exitCode, _, error) = await ProveAsync(address, WriterFixture.GlobalAuditorKey, "r0", key.Trim());

        Assert.Equal(3, exitCode);
        Assert.Contains("cannot be reached", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prove_MissingRequiredOption_ExitsTwo()
    {
        var (exitCode, _, _) = await CliRunner.RunAsync("audit", "prove", "--url", "http://127.0.0.1:9/", "--key", "k");

        Assert.Equal(2, exitCode);
    }

    /// <summary>A writer that lies: a real HTTP hop in front of the real writer that alters the proof or the record.</summary>
    private sealed class AlteringRelay : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly HttpClient _upstream;

        private AlteringRelay(WebApplication app, HttpClient upstream)
        {
            _app = app;
            _upstream = upstream;
        }

        public Uri BaseAddress { get; private set; } = null!;

        public static async Task<AlteringRelay> StartAsync(Uri writer, string alteration)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var upstream = new HttpClient { BaseAddress = writer };
            app.Run(async context =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, context.Request.Path + context.Request.QueryString);
                foreach (var header in context.Request.Headers.Where(h => h.Key.StartsWith("X-Api-Key", StringComparison.OrdinalIgnoreCase)))
                {
                    request.Headers.Add(header.Key, header.Value.ToString());
                }

                using var response = await upstream.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    body = Alter(context.Request.Path, body, alteration);
                }

                context.Response.StatusCode = (int)response.StatusCode;
                context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
                await context.Response.WriteAsync(body);
            });
            await app.StartAsync();
            var relay = new AlteringRelay(app, upstream);
            relay.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            return relay;
        }

        private static string Alter(string path, string body, string alteration)
        {
            if (alteration is "flip" or "drop" && path == "/audit/proof/inclusion")
            {
                var proof = JsonNode.Parse(body)!["proof"]!.AsArray();
                if (alteration == "drop")
                {
                    proof.RemoveAt(0);
                }
                else
                {
                    var hash = Convert.FromBase64String(proof[1]!.GetValue<string>());
                    hash[0] ^= 0x80;
                    proof[1] = Convert.ToBase64String(hash);
                }

                return JsonSerializer.Serialize(new { proof });
            }

            if (alteration == "swap-id" && path == "/audit/records")
            {
                // Serve another record's bytes under the requested id: the leaf is genuine and provable, but not r13.
                var document = JsonNode.Parse(body)!;
                var record = document["records"]![0]!;
                var leaf = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(record["leaf"]!.GetValue<string>()));
                record["leaf"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(leaf.Replace("\"r13\"", "\"r12\"", StringComparison.Ordinal)));
                return document.ToJsonString();
            }

            return body;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _upstream.Dispose();
        }
    }
}
