using System.Buffers;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using Edge.Audit.Merkle;
using Edge.Audit.Records;
using Edge.Audit.Storage;

namespace Edge.Benchmarks.Auditing;

/// <summary>The per-record audit work: canonical serialisation, the summary the writer indexes, and the leaf hash.</summary>
[MemoryDiagnoser]
public class AuditRecordBenchmarks
{
    private readonly ArrayBufferWriter<byte> _buffer = new(2048);
    private AuditRecord _record = null!;
    private byte[] _leaf = [];

    [GlobalSetup]
    public void Setup()
    {
        _record = AuditSamples.Record(7);
        _leaf = AuditRecordSerializer.Serialize(_record);
    }

    [Benchmark]
    public byte[] Serialize() => AuditRecordSerializer.Serialize(_record);

    [Benchmark]
    public int SerializeIntoBuffer()
    {
        _buffer.ResetWrittenCount();
        AuditRecordSerializer.Serialize(_record, _buffer);
        return _buffer.WrittenCount;
    }

    [Benchmark]
    public LeafSummary? ParseSummary() => LeafSummary.TryParse(_leaf, out _);

    [Benchmark]
    public byte[] HashLeaf() => MerkleHasher.HashLeaf(_leaf);
}

/// <summary>Records shaped like the edge's: 16 tenants, 50 principals, 8 routes, about 10% denials.</summary>
internal static class AuditSamples
{
    private static readonly string[] Reasons = ["tenant_missing", "rate_limited", "missing_permission"];

    public static AuditRecord Record(int i) => new()
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
        Reason = i % 10 == 0 ? Reasons[i % 3] : null,
        RateLimit = "allowed",
        BytesIn = 0,
        BytesOut = 120,
        LatencyMs = 1.25,
        TraceId = "4bf92f3577b34da6a3ce929d0e0e4736",
    };

    public static PendingLeaf Leaf(int i)
    {
        var bytes = AuditRecordSerializer.Serialize(Record(i));
        return new PendingLeaf(bytes, LeafSummary.TryParse(bytes, out var error) ?? throw new InvalidOperationException(error));
    }
}
