using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace Edge.Configuration.Authorization;

/// <summary>
/// A claim named twice in the payload is refused (RFC 7519 §4 lets a parser refuse it or take the last one). The edge's
/// parser takes the last; a backend that reads the forwarded token, or a parser that takes the first, would see another
/// principal, tenant or role than the one the edge checked. An identity provider does not repeat a claim on purpose;
/// a repeated one is more likely injected through a claim value it did not escape.
/// </summary>
internal static class JwtPayloadRules
{
    /// <summary>Null when no top-level claim is repeated (or the payload is not JSON, which the parser refuses itself).</summary>
    public static (string Reason, string Detail)? Check(ReadOnlySpan<char> encodedPayload)
    {
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(Base64Url.GetMaxDecodedLength(encodedPayload.Length), 1));
        try
        {
            if (Base64Url.DecodeFromChars(encodedPayload, rented, out _, out var written) != OperationStatus.Done)
            {
                return null;
            }

            return HasDuplicateMember(rented.AsSpan(0, written))
                ? ("payload_duplicate", "The token names a claim twice.")
                : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool HasDuplicateMember(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!names.Add(reader.GetString()!))
                {
                    return true;
                }

                reader.Read();
                reader.Skip();
            }

            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
