using System.Buffers;
using System.Buffers.Text;
using System.Collections.Frozen;
using System.Text.Json;

namespace Edge.Configuration.Authorization;

/// <summary>
/// Checks on the raw JOSE header of a compact JWS that <c>JsonWebTokenHandler</c> does not make: RFC 7515 §4.1.11
/// <c>crit</c> (the edge understands no extension, so any critical one refuses the token), duplicate members (RFC 7515
/// §5.2 allows refusing them; two parsers picking different ones is how header confusion starts), explicit typing
/// (RFC 8725 §3.11: a token minted for another purpose must not pass as an access token) and nested tokens.
/// </summary>
internal static class JwsHeaderRules
{
    /// <summary>The header members RFC 7515/7519 define; <c>crit</c> must not name them (RFC 7515 §4.1.11).</summary>
    private static readonly FrozenSet<string> StandardMembers = FrozenSet.ToFrozenSet(
        ["alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc", "zip"],
        StringComparer.Ordinal);

    /// <summary><c>typ</c> values of access tokens (RFC 7519 §5.1, RFC 9068 §2.1); compared case-insensitively.</summary>
    private static readonly FrozenSet<string> AccessTokenTypes = FrozenSet.ToFrozenSet(
        ["JWT", "application/jwt", "at+jwt", "application/at+jwt"],
        StringComparer.OrdinalIgnoreCase);

    /// <summary>Returns null when the header is acceptable, otherwise the audit reason suffix and the client detail.</summary>
    public static (string Reason, string Detail)? Check(ReadOnlySpan<char> encodedHeader)
    {
        var maxLength = Base64Url.GetMaxDecodedLength(encodedHeader.Length);
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(maxLength, 1));
        try
        {
            if (Base64Url.DecodeFromChars(encodedHeader, rented, out _, out var written) != OperationStatus.Done)
            {
                return ("malformed", "The token header is not base64url.");
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
        HashSet<string> names;
        List<string>? critical = null;
        var critSeen = false;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return ("malformed", "The token header is not a JSON object.");
            }

            names = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!names.Add(name))
                {
                    return ("header_duplicate", "The token header names a member twice.");
                }

                reader.Read();
                switch (name)
                {
                    case "alg" when reader.TokenType != JsonTokenType.String:
                        return ("malformed", "The token header's alg is not a string.");
                    case "typ" when reader.TokenType != JsonTokenType.String || !AccessTokenTypes.Contains(reader.GetString()!):
                        return ("typ", "The token's typ is not an access token type.");
                    case "cty" when reader.TokenType != JsonTokenType.String || string.Equals(reader.GetString(), "JWT", StringComparison.OrdinalIgnoreCase):
                        return ("nested", "Nested tokens are not accepted.");
                    case "crit":
                        critSeen = true;
                        critical = ReadCritical(ref reader);
                        if (critical is null)
                        {
                            return ("crit_malformed", "The token header's crit is not a non-empty array of extension names.");
                        }

                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return ("malformed", "The token header is not a JSON object.");
            }
        }
        // GetString throws InvalidOperationException, not JsonException, for a string that is not valid UTF-8 (or
        // escapes a lone surrogate); either is untrusted input that is not a JOSE header.
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return ("malformed", "The token header is not JSON.");
        }

        if (!names.Contains("alg"))
        {
            return ("alg_none", "Unsigned tokens are not accepted.");
        }

        if (critSeen)
        {
            foreach (var extension in critical!)
            {
                if (StandardMembers.Contains(extension) || !names.Contains(extension))
                {
                    return ("crit_malformed", "The token header's crit names a standard member or one the header lacks.");
                }
            }

            // No JWS extension (b64 of RFC 7797 included) is implemented, so every critical one is not understood.
            return ("crit_unsupported", "The token names a critical header extension the edge does not understand.");
        }

        return null;
    }

    /// <summary>The names in a <c>crit</c> array, or null when it is not a non-empty array of distinct strings.</summary>
    private static List<string>? ReadCritical(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return null;
        }

        var names = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            // The caller refuses the token at once, so the reader need not be left after the array.
            if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 } name || names.Contains(name, StringComparer.Ordinal))
            {
                return null;
            }

            names.Add(name);
        }

        return names.Count == 0 ? null : names;
    }
}
