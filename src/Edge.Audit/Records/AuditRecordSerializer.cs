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

    // Member names encoded once: the writer copies their bytes instead of transcoding and escape-checking every name of
    // every record. Same bytes (the names are ASCII letters).
    private static readonly JsonEncodedText s_specversion = Text("specversion");
    private static readonly JsonEncodedText s_id = Text("id");
    private static readonly JsonEncodedText s_type = Text("type");
    private static readonly JsonEncodedText s_time = Text("time");
    private static readonly JsonEncodedText s_tenant = Text("tenant");
    private static readonly JsonEncodedText s_datacontenttype = Text("datacontenttype");
    private static readonly JsonEncodedText s_dataschema = Text("dataschema");
    private static readonly JsonEncodedText s_data = Text("data");
    private static readonly JsonEncodedText s_instance = Text("instance");
    private static readonly JsonEncodedText s_status = Text("status");
    private static readonly JsonEncodedText s_decision = Text("decision");
    private static readonly JsonEncodedText s_signature = Text("signature");
    private static readonly JsonEncodedText s_bytesIn = Text("bytesIn");
    private static readonly JsonEncodedText s_bytesOut = Text("bytesOut");
    private static readonly JsonEncodedText s_latencyMs = Text("latencyMs");
    private static readonly JsonEncodedText s_bodyHash = Text("bodyHash");
    private static readonly JsonEncodedText s_alg = Text("alg");
    private static readonly JsonEncodedText s_salt = Text("salt");
    private static readonly JsonEncodedText s_value = Text("value");
    private static readonly JsonEncodedText s_attributes = Text("attributes");
    private static readonly JsonEncodedText s_subject = Text("subject");
    private static readonly JsonEncodedText s_protection = Text("protection");
    private static readonly JsonEncodedText s_source = Text("source");
    private static readonly JsonEncodedText s_route = Text("route");
    private static readonly JsonEncodedText s_destination = Text("destination");
    private static readonly JsonEncodedText s_method = Text("method");
    private static readonly JsonEncodedText s_path = Text("path");
    private static readonly JsonEncodedText s_step = Text("step");
    private static readonly JsonEncodedText s_reason = Text("reason");
    private static readonly JsonEncodedText s_authMethod = Text("authMethod");
    private static readonly JsonEncodedText s_rateLimit = Text("rateLimit");
    private static readonly JsonEncodedText s_rateLimitFallback = Text("rateLimitFallback");
    private static readonly JsonEncodedText s_scheme = Text("scheme");
    private static readonly JsonEncodedText s_result = Text("result");
    private static readonly JsonEncodedText s_traceId = Text("traceId");
    private static readonly JsonEncodedText s_principal = Text("principal");
    private static readonly JsonEncodedText s_clientIp = Text("clientIp");

    private static readonly JsonEncodedText s_specVersionValue = Text(SpecVersion);
    private static readonly JsonEncodedText s_contentTypeValue = Text("application/json");
    private static readonly JsonEncodedText s_dataSchemaValue = Text(DataSchema);
    private static readonly JsonEncodedText s_protectionNone = Text("none");

    private static JsonEncodedText Text(string value) => JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);

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
        json.WriteString(s_specversion, s_specVersionValue);
        json.WriteString(s_id, record.Id);
        WriteSource(json, record.Instance);
        json.WriteString(s_type, record.Type);
        Span<char> time = stackalloc char[StackChars];
        // "O" of a UTC DateTime is yyyy-MM-ddTHH:mm:ss.fffffffZ, the same characters as the custom pattern it replaces,
        // through the runtime's fixed-layout path instead of parsing a custom format on every record.
        record.Time.UtcDateTime.TryFormat(time, out var timeLength, "O", CultureInfo.InvariantCulture);
        json.WriteString(s_time, time[..timeLength]);
        if (record.Tenant is not null)
        {
            json.WriteString(s_tenant, record.Tenant);
        }

        json.WriteString(s_datacontenttype, s_contentTypeValue);
        json.WriteString(s_dataschema, s_dataSchemaValue);
        json.WriteStartObject(s_data);
        json.WriteString(s_instance, record.Instance);
        WriteOptional(json, s_route, record.Route);
        WriteOptional(json, s_destination, record.Destination);
        WriteOptional(json, s_method, record.Method);
        WriteOptional(json, s_scheme, record.Scheme);
        WriteOptional(json, s_path, record.Path);
        if (record.Status is { } status)
        {
            json.WriteNumber(s_status, status);
        }

        json.WriteString(s_decision, record.Decision);
        WriteOptional(json, s_step, record.Step);
        WriteOptional(json, s_reason, record.Reason);
        WriteOptional(json, s_authMethod, record.AuthMethod);
        WriteOptional(json, s_rateLimit, record.RateLimit);
        WriteOptional(json, s_rateLimitFallback, record.RateLimitFallback);
        if (record.SignatureScheme is not null || record.SignatureResult is not null)
        {
            json.WriteStartObject(s_signature);
            WriteOptional(json, s_scheme, record.SignatureScheme);
            WriteOptional(json, s_result, record.SignatureResult);
            json.WriteEndObject();
        }

        if (record.BytesIn is { } bytesIn)
        {
            json.WriteNumber(s_bytesIn, bytesIn);
        }

        if (record.BytesOut is { } bytesOut)
        {
            json.WriteNumber(s_bytesOut, bytesOut);
        }

        if (record.LatencyMs is { } latency)
        {
            json.WriteNumber(s_latencyMs, Math.Round(latency, 3));
        }

        if (record.TraceId is { } traceId)
        {
            json.WriteString(s_traceId, traceId.Span);
        }

        if (record.BodyHash is { } bodyHash)
        {
            json.WriteStartObject(s_bodyHash);
            json.WriteString(s_alg, BodyHash.Algorithm);
            json.WriteBase64String(s_salt, bodyHash.Salt);
            json.WriteBase64String(s_value, bodyHash.Value);
            json.WriteEndObject();
        }

        if (record.Attributes is { Count: > 0 } attributes)
        {
            json.WriteStartObject(s_attributes);
            foreach (var (key, value) in attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
        }

        json.WriteStartObject(s_subject);
        json.WriteString(s_protection, s_protectionNone);
        WriteOptional(json, s_principal, record.Principal);
        WriteOptional(json, s_clientIp, record.ClientIp);
        if (record.SubjectDetails is { } details)
        {
            foreach (var (name, value) in details)
            {
                json.WriteString(name, value);
            }
        }

        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteSource(Utf8JsonWriter json, string instance)
    {
        const string scheme = "edge://";
        if (scheme.Length + instance.Length > StackChars)
        {
            json.WriteString(s_source, scheme + instance);
            return;
        }

        Span<char> source = stackalloc char[StackChars];
        scheme.CopyTo(source);
        instance.CopyTo(source[scheme.Length..]);
        json.WriteString(s_source, source[..(scheme.Length + instance.Length)]);
    }

    private static void WriteOptional(Utf8JsonWriter json, JsonEncodedText name, string? value)
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

    /// <summary><see cref="AuditSubject.Details"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? SubjectDetails { get; init; }

    public string? AuthMethod { get; init; }

    public string? Route { get; init; }

    public string? Destination { get; init; }

    public string? Method { get; init; }

    public string? Scheme { get; init; }

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

    /// <summary>A slice, not a string: the edge's trace id is part of the request's <c>traceparent</c>.</summary>
    public ReadOnlyMemory<char>? TraceId { get; init; }

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
            SubjectDetails = record.Subject.Details,
            AuthMethod = record.AuthMethod,
            Route = record.Route,
            Destination = record.Destination,
            Method = record.Method,
            Scheme = record.Scheme,
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
            TraceId = record.TraceId?.AsMemory(),
            BodyHash = record.BodyHash,
            Attributes = record.Attributes,
        };
    }
}
