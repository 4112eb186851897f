namespace Edge.Proxy.Auditing;

/// <summary>
/// One policy's change of one kind of secret between two applied configs. Holds counts and, for API keys, the first
/// hex characters of the key hashes (the config already holds the full hashes); never a secret value or its fingerprint.
/// </summary>
internal sealed record SecretRotation
{
    /// <summary>One of <see cref="SecretRotationKinds"/>.</summary>
    public required string Kind { get; init; }

    public required string Policy { get; init; }

    /// <summary>References (or API key hashes) present now but not before.</summary>
    public int Added { get; init; }

    /// <summary>References (or API key hashes) present before but not now.</summary>
    public int Removed { get; init; }

    /// <summary>Unchanged references whose resolved value differs from the one resolved at the previous load.</summary>
    public int ValueChanged { get; init; }

    /// <summary>API keys: the first 8 hex characters of each added key's SHA-256.</summary>
    public IReadOnlyList<string> AddedKeyPrefixes { get; init; } = [];

    /// <summary>API keys: the first 8 hex characters of each removed key's SHA-256.</summary>
    public IReadOnlyList<string> RemovedKeyPrefixes { get; init; } = [];
}
