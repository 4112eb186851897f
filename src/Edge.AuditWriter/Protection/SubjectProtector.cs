using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Edge.Audit.Records;

namespace Edge.AuditWriter.Protection;

/// <summary>
/// Turns an edge's v1 record (plaintext <c>data.subject</c>) into the v2 leaf the writer commits to:
/// <c>dataschema</c> <c>urn:edge:audit:record:2</c> and <c>data.subject</c> =
/// <c>{"protection":"aes-256-gcm","nonce":…,"ciphertext":…}</c>, the personal fields encrypted under the subject's
/// data key with the record id as associated data (a ciphertext cannot be moved to another record). Every other
/// member is kept byte for byte in its order.
/// </summary>
internal static class SubjectProtector
{
    public const string DataSchemaV2 = "urn:edge:audit:record:2";
    public const string Algorithm = "aes-256-gcm";

    // Ciphertext length would otherwise tell the principal's length; padding to a block hides most of it.
    private const int PaddingBlock = 64;
    private const int NonceBytes = 12;

    // Record ids are at most this long (LeafSummary.MaxIdLength); the writer's own ids are GUIDs.
    private const int LeafSummaryMaxIdLength = Edge.Audit.Records.LeafSummary.MaxIdLength;

    // One writer and buffer per thread: leaves are sealed on ingest threads (ahead of the append lock) and under it.
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_output;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_pad;
    [ThreadStatic] private static Utf8JsonWriter? t_padWriter;

    // Subjects whose padded plaintext fits here are sealed on the stack.
    private const int StackLimit = 512;

    private static readonly JsonSerializerOptions s_output = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    /// <summary>The plaintext subject of an edge record, or null when it has none (no principal, no client IP).</summary>
    public static PlainSubject? ReadSubject(JsonElement record)
    {
        if (record.ValueKind != JsonValueKind.Object
            || !record.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("subject", out var subject) || subject.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var principal = StringOf(subject, "principal");
        var clientIp = StringOf(subject, "clientIp");
        return principal is null && clientIp is null ? null : new PlainSubject(principal, clientIp, DetailsOf(subject));
    }

    /// <summary>
    /// Rewrites <paramref name="record"/> (the edge's leaf) into v2 bytes in one pass: <c>dataschema</c> and
    /// <c>data.subject</c> replaced where they stand (appended when absent), every other member copied in its order.
    /// </summary>
    public static byte[] Protect(JsonElement record, string recordId, PlainSubject? subject, AesGcm? dataKey)
    {
        ArgumentNullException.ThrowIfNull(recordId);
        var output = t_output ??= new ArrayBufferWriter<byte>(1024);
        output.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = s_output.Encoder, SkipValidation = true });
        writer.Reset(output);
        writer.WriteStartObject();
        var schemaWritten = false;
        foreach (var member in record.EnumerateObject())
        {
            if (member.NameEquals("dataschema"))
            {
                writer.WriteString("dataschema", DataSchemaV2);
                schemaWritten = true;
            }
            else if (member.NameEquals("data") && member.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName("data");
                WriteData(writer, member.Value, recordId, subject, dataKey);
            }
            else
            {
                member.WriteTo(writer);
            }
        }

        if (!schemaWritten)
        {
            writer.WriteString("dataschema", DataSchemaV2);
        }

        writer.WriteEndObject();
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The same v2 bytes as <see cref="Protect(JsonElement, string, PlainSubject?, AesGcm?)"/> for a leaf the edge
    /// serialised (compact, relaxed escaping), without parsing it again: the <c>dataschema</c> and <c>data.subject</c>
    /// values found by the validating parse are replaced (or inserted where the rewrite appends them) and every other
    /// byte is copied as it came.
    /// </summary>
    public static byte[] Protect(byte[] leaf, in LeafLayout layout, string recordId, PlainSubject? subject, AesGcm? dataKey)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(recordId);
        var hasSchema = layout.SchemaStart >= 0;
        var schemaAt = hasSchema ? layout.SchemaStart : layout.RootEnd;
        var schemaRemoved = hasSchema ? layout.SchemaLength : 0;
        var schema = hasSchema ? "\"urn:edge:audit:record:2\""u8 : ",\"dataschema\":\"urn:edge:audit:record:2\""u8;

        var output = t_output ??= new ArrayBufferWriter<byte>(1024);
        output.ResetWrittenCount();
        var subjectAt = -1;
        var subjectRemoved = 0;
        if (layout.DataEnd >= 0)
        {
            if (layout.SubjectStart >= 0)
            {
                subjectAt = layout.SubjectStart;
                subjectRemoved = layout.SubjectLength;
            }
            else
            {
                subjectAt = layout.DataEnd;
                output.Write(layout.DataEmpty ? "\"subject\":"u8 : ",\"subject\":"u8);
            }

            var writer = t_writer ??= new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = s_output.Encoder, SkipValidation = true });
            writer.Reset(output);
            WriteSubjectValue(writer, recordId, subject, dataKey);
            writer.Flush();
        }

        var replacement = output.WrittenSpan;
        var result = new byte[leaf.Length - schemaRemoved + schema.Length - subjectRemoved + replacement.Length];
        var source = leaf.AsSpan();
        var target = result.AsSpan();
        var copied = 0;
        static void Splice(int at, int removed, ReadOnlySpan<byte> inserted, Span<byte> into, ReadOnlySpan<byte> from, ref int read, ref int written)
        {
            from[read..at].CopyTo(into[written..]);
            written += at - read;
            inserted.CopyTo(into[written..]);
            written += inserted.Length;
            read = at + removed;
        }

        var written = 0;
        if (subjectAt >= 0 && subjectAt < schemaAt)
        {
            Splice(subjectAt, subjectRemoved, replacement, target, source, ref copied, ref written);
            Splice(schemaAt, schemaRemoved, schema, target, source, ref copied, ref written);
        }
        else
        {
            Splice(schemaAt, schemaRemoved, schema, target, source, ref copied, ref written);
            if (subjectAt >= 0)
            {
                Splice(subjectAt, subjectRemoved, replacement, target, source, ref copied, ref written);
            }
        }

        source[copied..].CopyTo(target[written..]);
        return result;
    }

    private static void WriteData(Utf8JsonWriter writer, JsonElement data, string recordId, PlainSubject? subject, AesGcm? dataKey)
    {
        writer.WriteStartObject();
        var subjectWritten = false;
        foreach (var member in data.EnumerateObject())
        {
            if (member.NameEquals("subject"))
            {
                WriteSubject(writer, recordId, subject, dataKey);
                subjectWritten = true;
            }
            else
            {
                member.WriteTo(writer);
            }
        }

        if (!subjectWritten)
        {
            WriteSubject(writer, recordId, subject, dataKey);
        }

        writer.WriteEndObject();
    }

    private static void WriteSubject(Utf8JsonWriter writer, string recordId, PlainSubject? subject, AesGcm? dataKey)
    {
        writer.WritePropertyName("subject");
        WriteSubjectValue(writer, recordId, subject, dataKey);
    }

    private static void WriteSubjectValue(Utf8JsonWriter writer, string recordId, PlainSubject? subject, AesGcm? dataKey)
    {
        writer.WriteStartObject();
        if (subject is null || dataKey is null)
        {
            writer.WriteString("protection", "none");
            writer.WriteEndObject();
            return;
        }

        // Plaintext and sealed bytes on the stack (a subject is a few dozen bytes), zeroed after use: two arrays per
        // record before, and the plaintext ones were left for the GC.
        var json = WritePlaintext(subject);
        var paddedLength = (json.Length / PaddingBlock + 1) * PaddingBlock;
        var sealedLength = SubjectKeyring.SealedLength(paddedLength);
        byte[]? rentedPadded = null, rentedSealed = null;
        Span<byte> padded = paddedLength <= StackLimit ? stackalloc byte[StackLimit] : (rentedPadded = ArrayPool<byte>.Shared.Rent(paddedLength));
        Span<byte> sealedBytes = sealedLength <= StackLimit + 64 ? stackalloc byte[StackLimit + 64] : (rentedSealed = ArrayPool<byte>.Shared.Rent(sealedLength));
        padded = padded[..paddedLength];
        sealedBytes = sealedBytes[..sealedLength];
        try
        {
            json.CopyTo(padded);
            padded[json.Length..].Fill((byte)' ');
            Span<byte> associated = stackalloc byte[Encoding.UTF8.GetMaxByteCount(LeafSummaryMaxIdLength)];
            associated = associated[..Encoding.UTF8.GetBytes(recordId, associated)];
            SubjectKeyring.Seal(dataKey, padded, associated, sealedBytes);
            writer.WriteString("protection", Algorithm);
            writer.WriteBase64String("nonce", sealedBytes[..NonceBytes]);
            writer.WriteBase64String("ciphertext", sealedBytes[NonceBytes..]);
            writer.WriteEndObject();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(padded);
            t_pad!.Clear();
            if (rentedPadded is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedPadded);
            }

            if (rentedSealed is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedSealed);
            }
        }
    }

    /// <summary>
    /// The record for readers: the leaf as JSON with <c>data.subject</c> made readable with <paramref name="dataKey"/>,
    /// or <c>{"protection":"erased"}</c> when the key is gone (or does not open the ciphertext).
    /// </summary>
    public static (JsonObject Record, string? Principal) Reveal(byte[] leaf, string recordId, byte[]? dataKey)
    {
        var record = JsonNode.Parse(leaf)!.AsObject();
        if (record["data"] is not JsonObject data || data["subject"] is not JsonObject subject)
        {
            return (record, null);
        }

        if (StringOf(subject["protection"]) != Algorithm)
        {
            return (record, StringOf(subject["principal"]));
        }

        var opened = dataKey is null ? null : TryOpen(subject, recordId, dataKey);
        if (opened is null)
        {
            data["subject"] = new JsonObject { ["protection"] = "erased" };
            return (record, null);
        }

        var view = new JsonObject { ["protection"] = Algorithm };
        if (opened.Principal is not null)
        {
            view["principal"] = opened.Principal;
        }

        if (opened.ClientIp is not null)
        {
            view["clientIp"] = opened.ClientIp;
        }

        foreach (var (name, value) in opened.Details ?? [])
        {
            view[name] = value;
        }

        data["subject"] = view;
        return (record, opened.Principal);
    }

    private static PlainSubject? TryOpen(JsonObject subject, string recordId, byte[] dataKey)
    {
        try
        {
            var nonce = Convert.FromBase64String(StringOf(subject["nonce"]) ?? "");
            var ciphertext = Convert.FromBase64String(StringOf(subject["ciphertext"]) ?? "");
            if (nonce.Length != NonceBytes)
            {
                return null;
            }

            var plaintext = SubjectKeyring.Decrypt(dataKey, [.. nonce, .. ciphertext], Encoding.UTF8.GetBytes(recordId));
            using var document = JsonDocument.Parse(plaintext);
            var root = document.RootElement;
            return new PlainSubject(
                root.TryGetProperty("principal", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null,
                root.TryGetProperty("clientIp", out var ip) && ip.ValueKind == JsonValueKind.String ? ip.GetString() : null,
                DetailsOf(root));
        }
        catch (Exception exception) when (exception is CryptographicException or FormatException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The subject's plaintext JSON in the thread's pad buffer (the caller clears it after sealing).</summary>
    private static ReadOnlySpan<byte> WritePlaintext(PlainSubject subject)
    {
        var output = t_pad ??= new ArrayBufferWriter<byte>(256);
        output.ResetWrittenCount();
        var writer = t_padWriter ??= new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = s_output.Encoder });
        writer.Reset(output);
        writer.WriteStartObject();
        writer.WriteString("principal", subject.Principal);
        writer.WriteString("clientIp", subject.ClientIp);
        foreach (var (name, value) in subject.Details ?? [])
        {
            writer.WriteString(name, value);
        }

        writer.WriteEndObject();
        writer.Flush();
        return output.WrittenSpan;
    }

    /// <summary>The subject's string members other than <c>protection</c>, <c>principal</c> and <c>clientIp</c>; null when none.</summary>
    private static List<KeyValuePair<string, string>>? DetailsOf(JsonElement subject)
    {
        List<KeyValuePair<string, string>>? details = null;
        foreach (var member in subject.EnumerateObject())
        {
            if (member.Value.ValueKind == JsonValueKind.String && member.Name is not ("protection" or "principal" or "clientIp"))
            {
                (details ??= []).Add(new(member.Name, member.Value.GetString()!));
            }
        }

        return details;
    }

    private static string? StringOf(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string? StringOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}

/// <summary>
/// The personal fields of one record; <paramref name="Details"/> are the subject's other members (a ban record's
/// <c>banKey</c>), sealed and erased with it. Subjects sealed before details existed open with none.
/// </summary>
internal sealed record PlainSubject(string? Principal, string? ClientIp, IReadOnlyList<KeyValuePair<string, string>>? Details = null);
