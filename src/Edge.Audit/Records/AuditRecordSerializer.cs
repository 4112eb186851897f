using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Edge.Audit.Records;

/// <summary>
/// Writes the canonical leaf bytes: a CloudEvents 1.0 structured-mode JSON envelope with a fixed member
/// order, no whitespace, and no line breaks (so one record is one NDJSON line).
/// </summary>
public static class AuditRecordSerializer
{
    public const string SpecVersion = "1.0";
    public const string DataSchema = "urn:edge:audit:record:1";

    private static readonly JsonWriterOptions s_options = new()
    {
        Indented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = false,
    };

    public static byte[] Serialize(AuditRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(768);
        Serialize(record, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    // The longest "edge://{instance}" or time string formatted on the stack; a longer instance name is allocated.
    private const int StackChars = 256;

    // Nothing is written to it: it only stands in for the last caller's output between records, so a reused writer
    // does not keep that buffer alive.
    private static readonly ArrayBufferWriter<byte> s_detached = new(1);

    // One writer per thread, reset onto each output: serialisation runs on every request.
    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static void Serialize(AuditRecord record, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(output);
        var json = t_writer;
        if (json is null)
        {
            json = t_writer = new Utf8JsonWriter(output, s_options);
        }
        else
        {
            json.Reset(output);
        }

        try
        {
            WriteRecord(json, record);
            json.Flush();
        }
        finally
        {
            json.Reset(s_detached);
        }
    }

    private static void WriteRecord(Utf8JsonWriter json, AuditRecord record)
    {
        json.WriteStartObject();
        json.WriteString("specversion", SpecVersion);
        json.WriteString("id", record.Id);
        WriteSource(json, record.Instance);
        json.WriteString("type", record.Type);
        Span<char> time = stackalloc char[StackChars];
        record.Time.UtcDateTime.TryFormat(time, out var timeLength, "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        json.WriteString("time", time[..timeLength]);
        if (record.Tenant is not null)
        {
            json.WriteString("tenant", record.Tenant);
        }

        json.WriteString("datacontenttype", "application/json");
        json.WriteString("dataschema", DataSchema);
        json.WriteStartObject("data");
        json.WriteString("instance", record.Instance);
        WriteOptional(json, "route", record.Route);
        WriteOptional(json, "destination", record.Destination);
        WriteOptional(json, "method", record.Method);
        WriteOptional(json, "path", record.Path);
        if (record.Status is { } status)
        {
            json.WriteNumber("status", status);
        }

        json.WriteString("decision", record.Decision);
        WriteOptional(json, "step", record.Step);
        WriteOptional(json, "reason", record.Reason);
        WriteOptional(json, "authMethod", record.AuthMethod);
        WriteOptional(json, "rateLimit", record.RateLimit);
        WriteOptional(json, "rateLimitFallback", record.RateLimitFallback);
        if (record.SignatureScheme is not null || record.SignatureResult is not null)
        {
            json.WriteStartObject("signature");
            WriteOptional(json, "scheme", record.SignatureScheme);
            WriteOptional(json, "result", record.SignatureResult);
            json.WriteEndObject();
        }

        if (record.BytesIn is { } bytesIn)
        {
            json.WriteNumber("bytesIn", bytesIn);
        }

        if (record.BytesOut is { } bytesOut)
        {
            json.WriteNumber("bytesOut", bytesOut);
        }

        if (record.LatencyMs is { } latency)
        {
            json.WriteNumber("latencyMs", Math.Round(latency, 3));
        }

        WriteOptional(json, "traceId", record.TraceId);
        if (record.BodyHash is { } bodyHash)
        {
            json.WriteStartObject("bodyHash");
            json.WriteString("alg", BodyHash.Algorithm);
            json.WriteBase64String("salt", bodyHash.Salt);
            json.WriteBase64String("value", bodyHash.Value);
            json.WriteEndObject();
        }

        if (record.Attributes is { Count: > 0 } attributes)
        {
            json.WriteStartObject("attributes");
            foreach (var (key, value) in attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
        }

        json.WriteStartObject("subject");
        json.WriteString("protection", "none");
        WriteOptional(json, "principal", record.Subject.Principal);
        WriteOptional(json, "clientIp", record.Subject.ClientIp);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteSource(Utf8JsonWriter json, string instance)
    {
        const string scheme = "edge://";
        if (scheme.Length + instance.Length > StackChars)
        {
            json.WriteString("source", scheme + instance);
            return;
        }

        Span<char> source = stackalloc char[StackChars];
        scheme.CopyTo(source);
        instance.CopyTo(source[scheme.Length..]);
        json.WriteString("source", source[..(scheme.Length + instance.Length)]);
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
