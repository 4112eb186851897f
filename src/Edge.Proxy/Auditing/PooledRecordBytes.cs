using System.Buffers;
using System.Numerics;
using Edge.Audit.Records;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Serialises a decision record once into a rented array: the record is written into a per-thread buffer (reused, so
/// no growing buffer per record), then copied into an array from a pool of the records' own. The sink that receives
/// the bytes owns them and hands them back with <see cref="Return"/> once they are written.
/// </summary>
/// <remarks>
/// Not <see cref="ArrayPool{T}.Shared"/>: records may be rented on the request threads and returned by a sink's loop on
/// another thread, many at once (the spool's loop completes a batch of queued appends; before the local file copied each
/// record into its batch, it returned a batch per <c>LocalFlushInterval</c>). The shared pool keeps
/// one array per size per thread and 32 per core, so the part of a batch beyond that was dropped on return and the
/// next requests allocated their arrays anew: about 200 bytes per request tenant-only, measured with
/// <c>edge-load request-alloc</c> and an allocation trace. This pool keeps up to <see cref="ArraysPerSize"/> arrays of
/// each power-of-two size, behind a <see cref="Lock"/> per size (not <c>ArrayPool.Create</c>, whose spin lock keeps
/// waiters spinning and sleeping while a preempted holder runs again on an oversubscribed machine).
/// </remarks>
internal static class PooledRecordBytes
{
    /// <summary>Arrays kept per size: a local-file batch at 50,000 records/s over a 20 ms interval is 1,000 records.</summary>
    internal const int ArraysPerSize = 1024;

    /// <summary>Larger records (none on the request path) are allocated and left to the GC.</summary>
    internal const int MaxPooledLength = 64 * 1024;

    private const int MinPooledLength = 256;

    private static readonly SizeClass[] s_classes = CreateClasses();

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static ArraySegment<byte> Serialize(in AuditRecordFields record)
    {
        var serialized = SerializeToThreadBuffer(record);
        var rented = Rent(serialized.Length);
        serialized.CopyTo(rented);
        return new ArraySegment<byte>(rented, 0, serialized.Length);
    }

    /// <summary>
    /// The record's bytes in this thread's buffer, valid until the thread serialises the next one: for a sink that copies
    /// them at once (<see cref="LocalFileAuditSink"/>), with no array per record.
    /// </summary>
    public static ReadOnlySpan<byte> SerializeToThreadBuffer(in AuditRecordFields record)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        AuditRecordSerializer.Serialize(in record, buffer);
        return buffer.WrittenSpan;
    }

    public static void Return(ArraySegment<byte> bytes)
    {
        if (bytes.Array is { } array && array.Length is >= MinPooledLength and <= MaxPooledLength && BitOperations.IsPow2(array.Length))
        {
            s_classes[ClassOf(array.Length)].Return(array);
        }
    }

    private static byte[] Rent(int length) =>
        length > MaxPooledLength ? new byte[length] : s_classes[ClassOf(length)].Rent();

    // 256 B -> 0, 512 B -> 1, ... 64 KB -> 8: the smallest power of two that holds the length.
    private static int ClassOf(int length) =>
        BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, MinPooledLength))) - BitOperations.Log2(MinPooledLength);

    private static SizeClass[] CreateClasses()
    {
        var classes = new SizeClass[ClassOf(MaxPooledLength) + 1];
        for (var i = 0; i < classes.Length; i++)
        {
            classes[i] = new SizeClass(MinPooledLength << i);
        }

        return classes;
    }

    private sealed class SizeClass(int length)
    {
        private readonly Lock _gate = new();
        private readonly byte[]?[] _arrays = new byte[]?[ArraysPerSize];
        private int _count;

        public byte[] Rent()
        {
            lock (_gate)
            {
                if (_count > 0)
                {
                    var array = _arrays[--_count]!;
                    _arrays[_count] = null;
                    return array;
                }
            }

            return new byte[length];
        }

        public void Return(byte[] array)
        {
            lock (_gate)
            {
                if (_count < ArraysPerSize)
                {
                    _arrays[_count++] = array;
                }
            }
        }
    }
}
