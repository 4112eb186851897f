using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edge.Configuration;

/// <summary>
/// One member of an enum, by its name in any case. <see cref="Enum.TryParse{TEnum}(string, bool, out TEnum)"/> also
/// takes a number and a comma-separated list, which it ORs together into a third member or into none: a tenant source
/// "Host, Path" was Claim, a webhook scheme "Meta, Telegram" was Stripe, and "Stripe, Slack" named no scheme at all.
/// </summary>
internal static class EnumName
{
    public static bool TryParse<T>(string? text, out T value)
        where T : struct, Enum
    {
        value = default;
        return !string.IsNullOrWhiteSpace(text)
            && !text.Contains(',', StringComparison.Ordinal)
            && !int.TryParse(text, out _)
            && Enum.TryParse(text, ignoreCase: true, out value)
            && Enum.IsDefined(value);
    }
}

/// <summary>
/// YARP's enums in proxy.json, by name only (a number named no member: "VersionPolicy": 9 failed every request with 502).
/// A <c>[Flags]</c> enum takes several names ("SslProtocols": "Tls12, Tls13"); any other takes one: the converter read
/// "HeaderPrefix, Contains" as their OR, NotContains, and the route matched exactly the requests without the value.
/// </summary>
internal sealed class EnumNameConverter : JsonConverterFactory
{
    private readonly JsonStringEnumConverter _names = new(namingPolicy: null, allowIntegerValues: false);

    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options)
    {
        var names = _names.CreateConverter(typeToConvert, options);
        return typeToConvert.IsDefined(typeof(FlagsAttribute), inherit: false)
            ? names
            : (JsonConverter?)Activator.CreateInstance(typeof(SingleName<>).MakeGenericType(typeToConvert), names);
    }

    private sealed class SingleName<T>(JsonConverter<T> names) : JsonConverter<T>
        where T : struct, Enum
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            // No message: the serializer then says which type it expected, and the reader names its members.
            if (reader.TokenType == JsonTokenType.String && reader.GetString()!.Contains(',', StringComparison.Ordinal))
            {
                throw new JsonException();
            }

            var value = names.Read(ref reader, typeToConvert, options);
            return Enum.IsDefined(value) ? value : throw new JsonException();
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => names.Write(writer, value, options);
    }
}
