using System.Buffers;
using Edge.Audit.Records;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Serialises a decision record once into a rented array: the record is written into a per-thread buffer (reused, so
/// no growing buffer per record), then copied into an array from <see cref="ArrayPool{T}.Shared"/>. The sink that
/// receives the bytes owns them and hands them back with <see cref="Return"/> once they are written.
/// </summary>
internal static class PooledRecordBytes
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static ArraySegment<byte> Serialize(in AuditRecordFields record)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        AuditRecordSerializer.Serialize(in record, buffer);
        var length = buffer.WrittenCount;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        buffer.WrittenSpan.CopyTo(rented);
        return new ArraySegment<byte>(rented, 0, length);
    }

    /// <summary>A rented copy of bytes serialised elsewhere (security events), so every record a sink holds is pooled.</summary>
    public static ArraySegment<byte> Copy(ReadOnlySpan<byte> bytes)
    {
        var rented = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(rented);
        return new ArraySegment<byte>(rented, 0, bytes.Length);
    }

    public static void Return(ArraySegment<byte> bytes)
    {
        if (bytes.Array is { } array)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
