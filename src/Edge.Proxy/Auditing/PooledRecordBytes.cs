using System.Buffers;
using Edge.Audit.Records;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Serialises a decision record once into a rented array: the record is written into a per-thread buffer (reused, so
/// no growing buffer per record), then copied into an array from a pool of the records' own. The sink that receives
/// the bytes owns them and hands them back with <see cref="Return"/> once they are written.
/// </summary>
/// <remarks>
/// Not <see cref="ArrayPool{T}.Shared"/>: records are rented on the request threads and returned by a sink's loop on
/// another thread, many at once (the local file writes a batch per <c>LocalFlushInterval</c>). The shared pool keeps
/// one array per size per thread and 32 per core, so the part of a batch beyond that was dropped on return and the
/// next requests allocated their arrays anew: about 200 bytes per request tenant-only, measured with
/// <c>edge-load request-alloc</c> and an allocation trace. This pool keeps up to <see cref="ArraysPerSize"/> arrays of
/// each size (created only when that many records are in flight at once).
/// </remarks>
internal static class PooledRecordBytes
{
    /// <summary>Arrays kept per size: a local-file batch at 50,000 records/s over a 20 ms interval is 1,000 records.</summary>
    internal const int ArraysPerSize = 1024;

    /// <summary>Larger records (none on the request path) are allocated and left to the GC.</summary>
    internal const int MaxPooledLength = 64 * 1024;

    private static readonly ArrayPool<byte> s_pool = ArrayPool<byte>.Create(MaxPooledLength, ArraysPerSize);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static ArraySegment<byte> Serialize(in AuditRecordFields record)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        AuditRecordSerializer.Serialize(in record, buffer);
        var length = buffer.WrittenCount;
        var rented = s_pool.Rent(length);
        buffer.WrittenSpan.CopyTo(rented);
        return new ArraySegment<byte>(rented, 0, length);
    }

    /// <summary>A rented copy of bytes serialised elsewhere (security events), so every record a sink holds is pooled.</summary>
    public static ArraySegment<byte> Copy(ReadOnlySpan<byte> bytes)
    {
        var rented = s_pool.Rent(bytes.Length);
        bytes.CopyTo(rented);
        return new ArraySegment<byte>(rented, 0, bytes.Length);
    }

    public static void Return(ArraySegment<byte> bytes)
    {
        if (bytes.Array is { } array)
        {
            s_pool.Return(array);
        }
    }
}
