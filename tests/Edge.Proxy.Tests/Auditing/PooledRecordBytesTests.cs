using Edge.Audit.Records;
using Edge.Proxy.Auditing;

namespace Edge.Proxy.Tests.Auditing;

public sealed class PooledRecordBytesTests
{
    private static AuditRecord Record(string id, string path) => new()
    {
        Id = id,
        Time = new DateTimeOffset(2026, 12, 2, 1, 2, 3, TimeSpan.Zero),
        Instance = "edge-test",
        Tenant = "acme",
        Subject = new AuditSubject { Principal = "alice", ClientIp = "203.0.113.5" },
        Route = "orders",
        Method = "GET",
        Path = path,
        Status = 200,
        Decision = "allow",
        LatencyMs = 1.25,
    };

    [Fact]
    public void Serialize_Record_SameBytesAsTheCanonicalSerializer()
    {
        var record = Record("r1", "/orders/1");

        var pooled = PooledRecordBytes.Serialize(AuditRecordFields.From(record));
        try
        {
            Assert.Equal(AuditRecordSerializer.Serialize(record), pooled.AsSpan().ToArray());
        }
        finally
        {
            PooledRecordBytes.Return(pooled);
        }
    }

    [Fact]
    public void Serialize_TwoRecordsOnOneThread_FirstKeepsItsBytes()
    {
        var first = PooledRecordBytes.Serialize(AuditRecordFields.From(Record("r1", "/orders/1")));
        var second = PooledRecordBytes.Serialize(AuditRecordFields.From(Record("r2", "/a-much-longer-path/that/grows/the/record/" + new string('x', 2000))));
        try
        {
            Assert.Equal(AuditRecordSerializer.Serialize(Record("r1", "/orders/1")), first.AsSpan().ToArray());
            Assert.NotSame(first.Array, second.Array);
        }
        finally
        {
            PooledRecordBytes.Return(first);
            PooledRecordBytes.Return(second);
        }
    }

    [Fact]
    public void Serialize_BatchReturnedByAnotherThread_NextBatchReusesItsArrays()
    {
        // The local file's loop returns a whole interval's records at once from its own thread. With the shared pool,
        // the part of a batch beyond 32 arrays per core was dropped and the next requests allocated anew.
        const int Batch = 500;
        var record = AuditRecordFields.From(Record("r1", "/orders/1"));
        var batch = new ArraySegment<byte>[Batch];
        for (var i = 0; i < Batch; i++)
        {
            batch[i] = PooledRecordBytes.Serialize(record);
        }

        ReturnOnAnotherThread(batch);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Batch; i++)
        {
            batch[i] = PooledRecordBytes.Serialize(record);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        ReturnOnAnotherThread(batch);
        Assert.True(allocated < Batch, $"{allocated} bytes allocated serialising {Batch} records");
    }

    private static void ReturnOnAnotherThread(ArraySegment<byte>[] batch)
    {
        var drain = new Thread(() =>
        {
            foreach (var bytes in batch)
            {
                PooledRecordBytes.Return(bytes);
            }
        });
        drain.Start();
        drain.Join();
    }
}
