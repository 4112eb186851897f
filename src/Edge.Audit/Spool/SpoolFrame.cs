using System.Buffers.Binary;

namespace Edge.Audit.Spool;

/// <summary>
/// One spooled record on disk: length (u32), sequence (u64), append time in unix ms (i64), FNV-1a checksum (u32)
/// over sequence, time and payload, then the payload. A torn tail after a crash fails the checksum or the length.
/// </summary>
internal static class SpoolFrame
{
    public const int HeaderSize = 24;
    public const int MaxPayload = 1 << 24;

    public static void WriteHeader(Span<byte> header, long sequence, long unixMs, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(header[4..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(header[12..], unixMs);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], Checksum(header[4..20], payload));
    }

    public static bool TryReadHeader(ReadOnlySpan<byte> header, out int length, out long sequence, out long unixMs, out uint checksum)
    {
        var raw = BinaryPrimitives.ReadUInt32LittleEndian(header);
        length = (int)Math.Min(raw, int.MaxValue);
        sequence = BinaryPrimitives.ReadInt64LittleEndian(header[4..]);
        unixMs = BinaryPrimitives.ReadInt64LittleEndian(header[12..]);
        checksum = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
        return raw <= MaxPayload && sequence > 0;
    }

    public static uint Checksum(ReadOnlySpan<byte> sequenceAndTime, ReadOnlySpan<byte> payload)
    {
        var hash = 2166136261u;
        foreach (var b in sequenceAndTime)
        {
            hash = (hash ^ b) * 16777619u;
        }

        foreach (var b in payload)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }
}
