using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edge.Configuration;

/// <summary>
/// Durations in proxy.json, as System.Text.Json reads them (<c>[-][d.]hh:mm[:ss[.fffffff]]</c>) except a bare number:
/// <c>"30"</c> is 30 days to .NET, so a ban rule's <c>"BanFor": "30"</c> (or a cluster's <c>"ActivityTimeout": "100"</c>)
/// meant as seconds was a month-long ban (a 100-day timeout), accepted without a word. Such a value is now a type error
/// at its location ("expected a duration such as "00:01:00""), like any other unreadable duration.
/// </summary>
internal sealed class DurationConverter : JsonConverter<TimeSpan>
{
    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException();
        }

        // Read once per config load: the serializer's own parse ('c' format), after the check for a colon.
        var text = reader.GetString()!;
        Span<byte> utf8 = stackalloc byte[64];
        if (!text.Contains(':', StringComparison.Ordinal)
            || !Encoding.UTF8.TryGetBytes(text, utf8, out var length)
            || !Utf8Parser.TryParse(utf8[..length], out TimeSpan value, out var consumed, 'c')
            || consumed != length)
        {
            throw new JsonException();
        }

        return value;
    }

    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString("c", CultureInfo.InvariantCulture));
}
