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
    /// <summary>
    /// Null when no top-level claim is repeated, <c>exp</c>, <c>nbf</c> and <c>iat</c> are numbers and every string is
    /// valid text (or the payload is not JSON, which the parser refuses itself).
    /// </summary>
    public static (string Reason, string Detail)? Check(ReadOnlySpan<char> encodedPayload)
    {
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(Base64Url.GetMaxDecodedLength(encodedPayload.Length), 1));
        try
        {
            if (Base64Url.DecodeFromChars(encodedPayload, rented, out _, out var written) != OperationStatus.Done)
            {
                return null;
            }

            return CheckJson(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static (string Reason, string Detail)? CheckJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName when reader.CurrentDepth == 1:
                        var name = reader.GetString()!;
                        if (!names.Add(name))
                        {
                            return ("payload_duplicate", "The token names a claim twice.");
                        }

                        // RFC 7519 §2: a NumericDate is a JSON number. IdentityModel also reads digits in a string, so
                        // "exp":"9999999999" passed, where a backend reading the forwarded token sees no number at all.
                        if (name is "exp" or "nbf" or "iat" && (!reader.Read() || reader.TokenType != JsonTokenType.Number))
                        {
                            return ("malformed", "The token's exp, nbf and iat must be JSON numbers.");
                        }

                        break;

                    // Every string is decoded here, nested ones included: IdentityModel decodes arrays and objects only
                    // when it builds the claims, after the signature, where invalid UTF-8 (or an escaped lone
                    // surrogate) threw out of the step as a 500 instead of a 401.
                    case JsonTokenType.PropertyName or JsonTokenType.String:
                        _ = reader.GetString();
                        break;
                }
            }

            return null;
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return ("malformed", "The token cannot be parsed.");
        }
    }
}
