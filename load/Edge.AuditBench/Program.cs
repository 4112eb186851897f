using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Shipping;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Hosting;
using HdrHistogram;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;

// Audit writer benchmark: ingest records/s (integrated and checkpointed), decision→checkpoint latency,
// `verify` records/s, and query latency at N stored records. Real Kestrel on loopback, real SQLite on disk.
// Usage: edge-audit-bench [records=200000] [batch=1000] [queries=2000]
//        edge-audit-bench edge [seconds=10] [concurrency=32] [rounds=2]   (edge throughput, audit on vs off)
if (args.Length > 0 && args[0] == "edge")
{
    return await Edge.AuditBench.EdgeThroughput.RunAsync(args[1..]);
}

var records = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
var batchSize = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000;
var queries = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2_000;
var directory = Directory.CreateTempSubdirectory("edge-audit-bench-").FullName;
var apiKey = "bench-auditor-key-" + Guid.NewGuid().ToString("N");
var proxyJson = Path.Combine(directory, "proxy.json");
File.WriteAllText(proxyJson, $$"""
    { "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } },
      "Edge": {
        "Authentication": { "auditors": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [
          { "Sha256": "{{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)))}}", "Principal": "bench", "Tenant": "t0", "Roles": [ "Auditor" ] } ] } },
        "Roles": { "Auditor": [ "audit.read.all" ] } } }
    """);
var storePath = Path.Combine(directory, "audit.db");
var keyPath = Path.Combine(directory, "writer.key");
var app = WriterApp.Build(
[
    "--urls", "http://127.0.0.1:0", $"--Writer:StorePath={storePath}", $"--Writer:KeyPath={keyPath}",
    "--Writer:Origin=bench", $"--Writer:ProxyConfigPath={proxyJson}", "--Writer:Authentication=auditors",
    "--Serilog:MinimumLevel:Default=Warning",
]);
await app.StartAsync();
var baseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };
client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);

// Records shaped like the edge's: 16 tenants, 50 principals, 8 routes, ~10% denials.
string[] reasons = ["tenant_missing", "rate_limited", "missing_permission"];
byte[] Leaf(int i) => AuditRecordSerializer.Serialize(new AuditRecord
{
    Id = Guid.CreateVersion7().ToString("N"),
    Time = DateTimeOffset.UtcNow,
    Instance = "bench-edge",
    Tenant = "t" + (i % 16).ToString(CultureInfo.InvariantCulture),
    Subject = new AuditSubject { Principal = "user" + (i % 50).ToString(CultureInfo.InvariantCulture), ClientIp = "10.0.0.1" },
    AuthMethod = "api-key",
    Route = "route" + (i % 8).ToString(CultureInfo.InvariantCulture),
    Destination = "http://127.0.0.1:9001/",
    Method = "GET",
    Path = "/orders/" + i.ToString(CultureInfo.InvariantCulture),
    Status = i % 10 == 0 ? 403 : 200,
    Decision = i % 10 == 0 ? "deny" : "allow",
    Step = i % 10 == 0 ? "EdgeRequire" : null,
    Reason = i % 10 == 0 ? reasons[i % 3] : null,
    RateLimit = "allowed",
    BytesIn = 0,
    BytesOut = 120,
    LatencyMs = 1.25,
    TraceId = "4bf92f3577b34da6a3ce929d0e0e4736",
});

// Pre-serialise the batches so the measurement is the writer, not the generator.
var batches = new List<byte[]>();
for (var start = 0; start < records; start += batchSize)
{
    var count = Math.Min(batchSize, records - start);
    using var body = new MemoryStream();
    for (var i = start; i < start + count; i++)
    {
        body.Write(Leaf(i));
        body.WriteByte((byte)'\n');
    }

    batches.Add(body.ToArray());
}

// Checkpoint watcher: when each size first appeared in a published checkpoint.
var checkpointSeen = new List<(long Size, long Ticks)>();
using var stopWatcher = new CancellationTokenSource();
var watcher = Task.Run(async () =>
{
    using var anonymous = new HttpClient { BaseAddress = baseAddress };
    while (!stopWatcher.IsCancellationRequested)
    {
        var note = await anonymous.GetStringAsync("/audit/checkpoint");
        var size = long.Parse(note.Split('\n')[1], CultureInfo.InvariantCulture);
        lock (checkpointSeen)
        {
            if (checkpointSeen.Count == 0 || checkpointSeen[^1].Size != size)
            {
                checkpointSeen.Add((size, Stopwatch.GetTimestamp()));
            }
        }

        await Task.Delay(10);
    }
});

var sent = new List<(long LastIndex, long Ticks)>();
var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
var total = Stopwatch.StartNew();
long sequence = 0;
foreach (var batch in batches)
{
    using var content = new ByteArrayContent(batch);
    content.Headers.ContentType = new MediaTypeHeaderValue(IngestProtocol.ContentType);
    sequence += batchSize;
    using var request = new HttpRequestMessage(HttpMethod.Post, IngestProtocol.Path) { Content = content };
    request.Headers.Add(IngestProtocol.LastSequenceHeader, sequence.ToString(CultureInfo.InvariantCulture));
    var before = Stopwatch.GetTimestamp();
    using var response = await client.SendAsync(request);
    response.EnsureSuccessStatusCode();
    sent.Add((Math.Min(sequence, records), before));
}

var ingested = total.Elapsed;
while (true)
{
    lock (checkpointSeen)
    {
        if (checkpointSeen.Count > 0 && checkpointSeen[^1].Size >= records)
        {
            break;
        }
    }

    await Task.Delay(5);
}

var checkpointed = total.Elapsed;
var ingestCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart;
await stopWatcher.CancelAsync();
await watcher;

var latency = new LongHistogram(TimeStamp.Minutes(5), 3);
foreach (var (lastIndex, ticks) in sent)
{
    var covered = checkpointSeen.First(c => c.Size >= lastIndex).Ticks;
    latency.RecordValue(Math.Max(0, covered - ticks) * 1_000_000 / Stopwatch.Frequency);
}

// Query latency over the API at N stored records: newest-first pages with a filter mix, and a cursor page.
var queryLatency = new LongHistogram(TimeStamp.Minutes(1), 3);
string[] filters = ["", "tenant=t3", "tenant=t5&decision=deny", "principal=user7", "route=route2&limit=50", "tenant=t9&reason=rate_limited"];
var random = new Random(42);
for (var q = 0; q < queries; q++)
{
    var filter = filters[q % filters.Length];
    var cursor = q % 3 == 0 ? $"&cursor={random.Next(records / 2, records)}" : "";
    var started = Stopwatch.GetTimestamp();
    using var response = await client.GetAsync($"/audit/records?{filter}{cursor}");
    await response.Content.ReadAsByteArrayAsync();
    response.EnsureSuccessStatusCode();
    queryLatency.RecordValue((Stopwatch.GetTimestamp() - started) * 1_000_000 / Stopwatch.Frequency);
}

await app.StopAsync();
await app.DisposeAsync();
SqliteConnection.ClearAllPools();

var verifyCpuStart = Process.GetCurrentProcess().TotalProcessorTime;
var verifyClock = Stopwatch.StartNew();
VerificationReport report;
using (var store = AuditStore.OpenReadOnly(storePath))
{
    report = LogVerifier.VerifyStore(store, [NoteVerifier.Parse(File.ReadAllText(keyPath + ".pub"))]);
}

var verifyElapsed = verifyClock.Elapsed;
var verifyCpu = Process.GetCurrentProcess().TotalProcessorTime - verifyCpuStart;
double Ms(LongHistogram h, double p) => h.GetValueAtPercentile(p) / 1000.0;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    records            {records} in batches of {batchSize}; store {new FileInfo(storePath).Length / (1024 * 1024)} MiB
    ingest (committed) {records / ingested.TotalSeconds:F0} records/s ({ingested.TotalSeconds:F2} s)
    ingest+checkpoint  {records / checkpointed.TotalSeconds:F0} records/s ({checkpointed.TotalSeconds:F2} s); {records / ingestCpu.TotalSeconds:F0} records per CPU-second (writer and client together)
    batch→checkpoint   p50 {Ms(latency, 50):F1} ms, p99 {Ms(latency, 99):F1} ms, max {latency.GetMaxValue() / 1000.0:F1} ms ({sent.Count} batches)
    query /audit/records p50 {Ms(queryLatency, 50):F2} ms, p99 {Ms(queryLatency, 99):F2} ms ({queries} queries)
    verify             {(report.Valid ? "OK" : "FAILED " + report.Problem)}: {report.RecordsChecked / verifyElapsed.TotalSeconds:F0} records/s ({verifyElapsed.TotalSeconds:F2} s, {report.CheckpointsChecked} checkpoints); {report.RecordsChecked / verifyCpu.TotalSeconds:F0} records per CPU-second
    """));
Directory.Delete(directory, recursive: true);
return report.Valid ? 0 : 1;
