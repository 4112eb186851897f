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
        Serialize(AuditRecordFields.From(record), output);
    }

    /// <summary>
    /// The same bytes as <see cref="Serialize(AuditRecord, IBufferWriter{byte})"/> for a record whose fields were filled
    /// in place: the edge serialises every decision this way, without an <see cref="AuditRecord"/> per request.
    /// </summary>
    public static void Serialize(in AuditRecordFields record, IBufferWriter<byte> output)
    {
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
            WriteRecord(json, in record);
            json.Flush();
        }
        finally
        {
            json.Reset(s_detached);
        }
    }

    private static void WriteRecord(Utf8JsonWriter json, in AuditRecordFields record)
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
        WriteOptional(json, "principal", record.Principal);
        WriteOptional(json, "clientIp", record.ClientIp);
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

/// <summary>
/// The fields of one record as <see cref="AuditRecordSerializer"/> reads them, a value on the caller's stack. The edge
/// fills one straight from a request's features, so a decision costs no <see cref="AuditRecord"/> and
/// <see cref="AuditSubject"/> per request; <see cref="From"/> is the same view of an <see cref="AuditRecord"/>, so both
/// give the same bytes. The properties mean what the <see cref="AuditRecord"/> properties of the same name mean.
/// </summary>
public readonly struct AuditRecordFields
{
    public required string Id { get; init; }

    public required string Type { get; init; }

    public required DateTimeOffset Time { get; init; }

    public required string Instance { get; init; }

    public string? Tenant { get; init; }

    /// <summary><see cref="AuditSubject.Principal"/>.</summary>
    public string? Principal { get; init; }

    /// <summary><see cref="AuditSubject.ClientIp"/>.</summary>
    public string? ClientIp { get; init; }

    public string? AuthMethod { get; init; }

    public string? Route { get; init; }

    public string? Destination { get; init; }

    public string? Method { get; init; }

    public string? Path { get; init; }

    public int? Status { get; init; }

    public required string Decision { get; init; }

    public string? Step { get; init; }

    public string? Reason { get; init; }

    public string? RateLimit { get; init; }

    public string? RateLimitFallback { get; init; }

    public string? SignatureScheme { get; init; }

    public string? SignatureResult { get; init; }

    public long? BytesIn { get; init; }

    public long? BytesOut { get; init; }

    public double? LatencyMs { get; init; }

    public string? TraceId { get; init; }

    public BodyHash? BodyHash { get; init; }

    public IReadOnlyDictionary<string, string>? Attributes { get; init; }

    public static AuditRecordFields From(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new AuditRecordFields
        {
            Id = record.Id,
            Type = record.Type,
            Time = record.Time,
            Instance = record.Instance,
            Tenant = record.Tenant,
            Principal = record.Subject.Principal,
            ClientIp = record.Subject.ClientIp,
            AuthMethod = record.AuthMethod,
            Route = record.Route,
            Destination = record.Destination,
            Method = record.Method,
            Path = record.Path,
            Status = record.Status,
            Decision = record.Decision,
            Step = record.Step,
            Reason = record.Reason,
            RateLimit = record.RateLimit,
            RateLimitFallback = record.RateLimitFallback,
            SignatureScheme = record.SignatureScheme,
            SignatureResult = record.SignatureResult,
            BytesIn = record.BytesIn,
            BytesOut = record.BytesOut,
            LatencyMs = record.LatencyMs,
            TraceId = record.TraceId,
            BodyHash = record.BodyHash,
            Attributes = record.Attributes,
        };
    }
}
