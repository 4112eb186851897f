using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Edge.Configuration;

namespace Edge.Configuration.Authorization;

/// <summary>
/// The HMAC-SHA256 the edge puts on the identity headers it sends to a backend, so a backend that cannot validate
/// tokens can still check that the identity came from the edge. The signed string is these lines joined by <c>\n</c>
/// (no trailing newline), each value exactly as sent in its header, an absent value as the empty string:
/// <code>
/// edge-identity-v2
/// {X-Edge-Timestamp: Unix seconds}
/// {X-Request-Id}
/// {HTTP method, upper case}
/// {request target: path and query as the backend receives them, percent-encoded as on the wire}
/// {X-Edge-Principal}
/// {X-Edge-Tenant}
/// {X-Edge-Roles: comma-separated}
/// </code>
/// <c>X-Edge-Signature</c> is <c>v2=</c> followed by the lowercase hex HMAC of the UTF-8 string with the key's UTF-8 bytes.
/// A backend recomputes it, compares in constant time, and rejects timestamps older than its tolerance. The request
/// target is signed (v2; v1 signed no target) so that identity headers captured from one request cannot be replayed
/// to another path or query of the backend within the tolerance.
/// </summary>
public static class IdentitySignature
{
    public const string Version = "v2";
    public const string Preamble = "edge-identity-v2";

    public static string SignedString(long timestamp, string requestId, string method, string target, string? principal, string? tenant, string? roles) =>
        string.Join('\n', Preamble, timestamp.ToString(CultureInfo.InvariantCulture), requestId, method, target, principal ?? "", tenant ?? "", roles ?? "");

    /// <summary>The <c>X-Edge-Signature</c> value (<c>v1=&lt;hex&gt;</c>).</summary>
    public static string Compute(ReadOnlySpan<byte> key, long timestamp, string requestId, string method, string target, string? principal, string? tenant, string? roles)
    {
        var data = Encoding.UTF8.GetBytes(SignedString(timestamp, requestId, method, target, principal, tenant, roles));
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, data, mac);
        return Version + "=" + Convert.ToHexStringLower(mac);
    }

    /// <summary>
    /// Checks a received signature in constant time. It does not look at the clock: a backend uses the overload with
    /// <c>now</c> and a tolerance.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> key, string signature, long timestamp, string requestId, string method, string target, string? principal, string? tenant, string? roles)
    {
        var expected = Encoding.ASCII.GetBytes(Compute(key, timestamp, requestId, method, target, principal, tenant, roles));
        var actual = Encoding.ASCII.GetBytes(signature);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    /// <summary>
    /// <see cref="Verify(ReadOnlySpan{byte}, string, long, string, string, string, string?, string?, string?)"/> plus the check
    /// every backend needs: the timestamp within <paramref name="tolerance"/> of <paramref name="now"/>, so identity
    /// headers captured once (a log, a proxy in between) do not pass when replayed later.
    /// </summary>
    public static bool Verify(
        ReadOnlySpan<byte> key, string signature, long timestamp, string requestId, string method, string target, string? principal, string? tenant, string? roles,
        DateTimeOffset now, TimeSpan tolerance)
    {
        // Compared as bounds around now: timestamp comes from a header, and now - timestamp could overflow.
        var seconds = now.ToUnixTimeSeconds();
        var slack = (long)tolerance.TotalSeconds;
        if (timestamp < seconds - slack || timestamp > seconds + slack)
        {
            return false;
        }

        return Verify(key, signature, timestamp, requestId, method, target, principal, tenant, roles);
    }

    public static byte[] ResolveKey(string reference)
    {
        if (!SecretReference.TryResolve(reference, out var secret, out var error))
        {
            throw new InvalidOperationException("IdentitySigningKey: " + error);
        }

        return Encoding.UTF8.GetBytes(secret);
    }
}
