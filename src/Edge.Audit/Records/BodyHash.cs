using System.Security.Cryptography;

namespace Edge.Audit.Records;

/// <summary>SHA-256(salt || body) with a fresh 16-byte salt per record, so equal or guessable bodies cannot be matched by dictionary.</summary>
public sealed record BodyHash(byte[] Salt, byte[] Value)
{
    public const string Algorithm = "sha256-salted";

    public static BodyHash Compute(ReadOnlySpan<byte> body)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        return new BodyHash(salt, Hash(salt, body));
    }

    public bool Matches(ReadOnlySpan<byte> body) => CryptographicOperations.FixedTimeEquals(Hash(Salt, body), Value);

    /// <summary>Incremental form for streamed bodies: feed the returned hash, then call <see cref="FromIncremental"/>.</summary>
    public static IncrementalHash Start(out byte[] salt)
    {
        salt = RandomNumberGenerator.GetBytes(16);
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(salt);
        return hash;
    }

    public static BodyHash FromIncremental(byte[] salt, IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        return new BodyHash(salt, hash.GetHashAndReset());
    }

    private static byte[] Hash(byte[] salt, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(salt);
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }
}
