using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Request ids: UUIDv7 (RFC 9562) in 32 lowercase hex digits, the shape <c>Guid.CreateVersion7().ToString("N")</c> gives,
/// with the time from the edge's <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// <c>Guid.CreateVersion7</c> takes its random bits from <c>Guid.NewGuid</c>, which on Linux reads 16 bytes from
/// <c>/dev/urandom</c>: one system call per request. These ids draw the same 74 random bits from the cryptographic
/// generator (user space) through a per-thread buffer refilled a few hundred ids at a time.
/// </remarks>
internal static class RequestIds
{
    private const int RandomBytesPerId = 10;
    private const int BufferIds = 256;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_offset;

    public static string NewId(DateTimeOffset now)
    {
        Span<byte> id = stackalloc byte[16];
        var milliseconds = now.ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteInt64BigEndian(id[..8], milliseconds << 16);
        TakeRandom().CopyTo(id[6..]);

        // Version 7 in the high nibble of byte 6, variant 10 in the top bits of byte 8 (RFC 9562 section 5.7).
        id[6] = (byte)(0x70 | (id[6] & 0x0F));
        id[8] = (byte)(0x80 | (id[8] & 0x3F));
        return Convert.ToHexStringLower(id);
    }

    private static ReadOnlySpan<byte> TakeRandom()
    {
        var buffer = t_random;
        if (buffer is null || t_offset + RandomBytesPerId > buffer.Length)
        {
            buffer ??= t_random = new byte[RandomBytesPerId * BufferIds];
            RandomNumberGenerator.Fill(buffer);
            t_offset = 0;
        }

        var random = buffer.AsSpan(t_offset, RandomBytesPerId);
        t_offset += RandomBytesPerId;
        return random;
    }
}
