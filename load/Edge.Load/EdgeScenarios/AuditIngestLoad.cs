using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Audit.Shipping;

namespace Edge.Load.EdgeScenarios;

/// <summary>
/// <c>edge-load audit-ingest</c>: drives a running writer's <c>POST /audit/ingest</c> the way an edge's shipper does
/// (NDJSON batches of edge-shaped v1 records with plaintext subjects, a last-sequence header, batches in flight
/// bounded by <see cref="Concurrency"/>), then waits for a signed checkpoint covering every record. The writer's CPU
/// comes from <c>/proc/&lt;pid&gt;/stat</c> (utime + stime), so the figure does not depend on how much of a shared
/// machine the run got; records/s does.
/// </summary>
public sealed record AuditIngestLoad
{
    public required Uri Target { get; init; }

    public required int WriterPid { get; init; }

    public int Records { get; init; } = 200_000;

    public int Batch { get; init; } = 2_000;

    public int Concurrency { get; init; } = 1;

    public int Tenants { get; init; } = 16;

    public int Principals { get; init; } = 10_000;

    /// <summary>The ingest bearer token, already resolved from its secret reference.</summary>
    public string? Token { get; init; }

    /// <summary><c>identity</c>, <c>gzip</c> or <c>br</c>: the Content-Encoding of each batch.</summary>
    public string Encoding { get; init; } = "identity";

    public sealed record Round(
        int Records, double IngestSeconds, double CheckpointedSeconds, double WriterCpuSeconds, long WireBytes, string LoadAverage, long WriterWrittenBytes)
    {
        /// <summary>Bytes the writer handed to write/pwrite per record (WAL frames, checkpoints into the database, logs).</summary>
        public double WrittenBytesPerRecord => WriterWrittenBytes / (double)Records;

        public double IngestedPerSecond => Records / IngestSeconds;

        public double CheckpointedPerSecond => Records / CheckpointedSeconds;

        public double CpuMicrosecondsPerRecord => WriterCpuSeconds * 1e6 / Records;
    }

    /// <summary>One round: fresh record ids (so nothing is a replay), every batch built before the clock starts.</summary>
    public async Task<Round> RunRoundAsync(HttpClient http, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        var run = Guid.NewGuid().ToString("N")[..12];
        var bodies = new List<byte[]>();
        long wireBytes = 0;
        for (var start = 0; start < Records; start += Batch)
        {
            using var body = new MemoryStream();
            for (var i = start; i < Math.Min(Records, start + Batch); i++)
            {
                body.Write(AuditDataset.Leaf(i, Tenants, Principals, "load-" + run + "-").Bytes);
                body.WriteByte((byte)'\n');
            }

            var encoded = Encode(body.ToArray());
            wireBytes += encoded.Length;
            bodies.Add(encoded);
        }

        var before = await CheckpointSizeAsync(http, cancellationToken).ConfigureAwait(false);
        var cpuBefore = WriterCpuSeconds();
        var writtenBefore = WriterWrittenBytes();
        var clock = Stopwatch.StartNew();
        var next = -1;
        async Task SendAllAsync()
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < bodies.Count)
            {
                await PostAsync(http, bodies[index], index, cancellationToken).ConfigureAwait(false);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(SendAllAsync, cancellationToken))).ConfigureAwait(false);
        var ingested = clock.Elapsed.TotalSeconds;
        while (await CheckpointSizeAsync(http, cancellationToken).ConfigureAwait(false) < before + Records)
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }

        var checkpointed = clock.Elapsed.TotalSeconds;
        var cpu = WriterCpuSeconds() - cpuBefore;
        var written = WriterWrittenBytes() - writtenBefore;
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        return new Round(Records, ingested, checkpointed, cpu, wireBytes, load, written);
    }

    private byte[] Encode(byte[] body)
    {
        if (Encoding == "identity")
        {
            return body;
        }

        using var output = new MemoryStream();
        using (Stream compressor = Encoding == "gzip"
                   ? new GZipStream(output, CompressionLevel.Fastest)
                   : new BrotliStream(output, CompressionLevel.Fastest))
        {
            compressor.Write(body);
        }

        return output.ToArray();
    }

    private async Task PostAsync(HttpClient http, byte[] body, int batch, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(IngestProtocol.ContentType);
        if (Encoding != "identity")
        {
            content.Headers.ContentEncoding.Add(Encoding);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Target, IngestProtocol.Path)) { Content = content };
        request.Headers.Add(IngestProtocol.LastSequenceHeader, batch.ToString(CultureInfo.InvariantCulture));
        if (Token is { Length: > 0 })
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"The writer answered {(int)response.StatusCode} to batch {batch}: {text}");
        }

        using var answer = JsonDocument.Parse(text);
        if (answer.RootElement.GetProperty("acked").GetInt64() != batch)
        {
            throw new HttpRequestException($"The writer acknowledged {text} for batch {batch}.");
        }
    }

    private async Task<long> CheckpointSizeAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var note = await http.GetStringAsync(new Uri(Target, "/audit/checkpoint"), cancellationToken).ConfigureAwait(false);
        return long.Parse(note.Split('\n')[1], NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>utime + stime of the writer process (fields 14 and 15 of /proc/pid/stat, in clock ticks).</summary>
    private double WriterCpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{WriterPid.ToString(CultureInfo.InvariantCulture)}/stat");
        // The command name (field 2) may contain spaces; the fields after it start behind the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / (double)ClockTicksPerSecond;
    }

    /// <summary>
    /// wchar of the writer process (<c>/proc/pid/io</c>): bytes passed to write-like system calls, a count that does not
    /// depend on the machine's load. 0 when the file cannot be read (another user's process).
    /// </summary>
    private long WriterWrittenBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{WriterPid.ToString(CultureInfo.InvariantCulture)}/io"))
            {
                if (line.StartsWith("wchar:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 0;
    }

    // USER_HZ: the kernel reports /proc times in 1/100 s on every Linux architecture .NET runs on.
    private const long ClockTicksPerSecond = 100;
}
