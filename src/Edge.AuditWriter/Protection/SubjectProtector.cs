using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

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

    private static readonly JsonSerializerOptions s_output = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    /// <summary>The plaintext subject of an edge record, or null when it has none (no principal, no client IP).</summary>
    public static PlainSubject? ReadSubject(JsonObject record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record["data"] is not JsonObject data || data["subject"] is not JsonObject subject)
        {
            return null;
        }

        var principal = StringOf(subject["principal"]);
        var clientIp = StringOf(subject["clientIp"]);
        return principal is null && clientIp is null ? null : new PlainSubject(principal, clientIp);
    }

    /// <summary>Rewrites <paramref name="record"/> (parsed from the edge's leaf) into v2 bytes.</summary>
    public static byte[] Protect(JsonObject record, string recordId, PlainSubject? subject, byte[]? dataKey)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record["data"] is not JsonObject data)
        {
            // Nothing personal can be in it; keep the edge's bytes' meaning, only the schema changes.
            record["dataschema"] = DataSchemaV2;
            return Encoding.UTF8.GetBytes(record.ToJsonString(s_output));
        }

        record["dataschema"] = DataSchemaV2;
        if (subject is null || dataKey is null)
        {
            data["subject"] = new JsonObject { ["protection"] = "none" };
        }
        else
        {
            var sealedBytes = SubjectKeyring.Encrypt(dataKey, Pad(subject), Encoding.UTF8.GetBytes(recordId));
            data["subject"] = new JsonObject
            {
                ["protection"] = Algorithm,
                ["nonce"] = Convert.ToBase64String(sealedBytes, 0, NonceBytes),
                ["ciphertext"] = Convert.ToBase64String(sealedBytes, NonceBytes, sealedBytes.Length - NonceBytes),
            };
        }

        return Encoding.UTF8.GetBytes(record.ToJsonString(s_output));
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
                root.TryGetProperty("clientIp", out var ip) && ip.ValueKind == JsonValueKind.String ? ip.GetString() : null);
        }
        catch (Exception exception) when (exception is CryptographicException or FormatException or JsonException)
        {
            return null;
        }
    }

    private static byte[] Pad(PlainSubject subject)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(
            new JsonObject { ["principal"] = subject.Principal, ["clientIp"] = subject.ClientIp }, s_output);
        var padded = new byte[(json.Length / PaddingBlock + 1) * PaddingBlock];
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length).Fill((byte)' ');
        return padded;
    }

    private static string? StringOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}

/// <summary>The personal fields of one record.</summary>
internal sealed record PlainSubject(string? Principal, string? ClientIp);
