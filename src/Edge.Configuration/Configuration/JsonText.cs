using System.Text.Json;
using System.Text.Unicode;

namespace Edge.Configuration;

/// <summary>
/// Finds a string or member name that cannot be read back as text: bytes that are not UTF-8, or an unpaired surrogate
/// escape such as <c>\ud800</c>. The serializer reports those as a type mismatch of the enclosing value ("expected an
/// object"), which sends the reader of the error looking for the wrong mistake.
/// </summary>
internal static class JsonText
{
    /// <summary>
    /// The byte offset of the first such token, or -1 when there is none before the end or before the first syntax error
    /// (which the serializer then reports as it does).
    /// </summary>
    public static long FirstUndecodable(ReadOnlySpan<byte> utf8, JsonReaderOptions options)
    {
        var reader = new Utf8JsonReader(utf8, options);
        byte[]? scratch = null;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName))
                {
                    continue;
                }

                if (!reader.ValueIsEscaped)
                {
                    if (!Utf8.IsValid(reader.ValueSpan))
                    {
                        return reader.TokenStartIndex;
                    }

                    continue;
                }

                if (scratch is null || scratch.Length < reader.ValueSpan.Length)
                {
                    scratch = new byte[Math.Max(reader.ValueSpan.Length, 256)];
                }

                try
                {
                    if (!Utf8.IsValid(scratch.AsSpan(0, reader.CopyString(scratch))))
                    {
                        return reader.TokenStartIndex;
                    }
                }
                catch (InvalidOperationException)
                {
                    return reader.TokenStartIndex;
                }
            }
        }
        catch (JsonException)
        {
            // A syntax error: the serializer's own message and position say it better.
        }

        return -1;
    }

    /// <summary>The 1-based line and byte within it of <paramref name="offset"/>, as the serializer's errors give them.</summary>
    public static (long Line, long Byte) Position(ReadOnlySpan<byte> utf8, long offset)
    {
        var before = utf8[..(int)offset];
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        return (before.Count((byte)'\n') + 1, offset - lineStart + 1);
    }
}
