using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Edge.Proxy.Configuration;

/// <summary>
/// What the secret references of an <c>Edge</c> section resolve to, for the routes' policy hash: a value replaced behind
/// an unchanged <c>env:</c>/<c>file:</c> reference (a rotated Kubernetes secret file) changes the hash, so YARP rebuilds
/// the steps that resolved the old value when they were built. Each value enters as an HMAC under a key that never leaves
/// this process, so the hash says nothing about a secret.
/// </summary>
internal static class SecretValueFingerprint
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    /// <summary>Appends one HMAC per string of <paramref name="edgeJson"/> that is a secret reference and resolves.</summary>
    public static void Append(IncrementalHash hasher, ReadOnlySpan<byte> edgeJson)
    {
        // The Edge section as the reader serialized it: which options hold secrets is each capability's business, and a
        // string that only looks like a reference costs one lookup.
        var reader = new Utf8JsonReader(edgeJson);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.String
                && reader.GetString() is { } value
                && SecretReference.IsReference(value)
                && SecretReference.TryResolve(value, out var secret, out _))
            {
                hasher.AppendData(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(value + "\n" + secret)));
            }
        }
    }
}
