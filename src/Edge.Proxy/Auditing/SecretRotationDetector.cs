using System.Security.Cryptography;
using System.Text;
using Edge.Proxy.Configuration;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Compares the secrets and keys of two applied Edge sections, policy by policy. Besides references added or removed,
/// it notices a changed value behind an unchanged <c>env:</c>/<c>file:</c> reference by keeping, per reference, an
/// HMAC of the value resolved at the last load under a random key that never leaves this process: the fingerprints
/// can be compared but are useless for guessing a secret, and neither values nor fingerprints are ever written out.
/// </summary>
internal sealed class SecretRotationDetector
{
    private readonly byte[] _fingerprintKey = RandomNumberGenerator.GetBytes(32);
    private readonly Lock _lock = new();
    private Dictionary<SecretSlot, byte[]> _fingerprints = [];

    /// <summary>
    /// Returns the rotations from <paramref name="previous"/> (null on the first load: nothing is reported) to
    /// <paramref name="current"/>, and remembers the current values for the next call.
    /// </summary>
    public IReadOnlyList<SecretRotation> Detect(EdgeSection? previous, EdgeSection current)
    {
        lock (_lock)
        {
            var currentReferences = References(current);
            var fingerprints = Fingerprint(currentReferences);
            List<SecretRotation> rotations = previous is null ? [] : Compare(References(previous), currentReferences, fingerprints);
            if (previous is not null)
            {
                rotations.AddRange(CompareApiKeys(previous, current));
            }

            _fingerprints = fingerprints;
            return rotations;
        }
    }

    private List<SecretRotation> Compare(
        Dictionary<(string Kind, string Policy), HashSet<string>> previous,
        Dictionary<(string Kind, string Policy), HashSet<string>> current,
        Dictionary<SecretSlot, byte[]> fingerprints)
    {
        var rotations = new List<SecretRotation>();
        foreach (var (kind, policy) in previous.Keys.Union(current.Keys).OrderBy(k => k.Kind, StringComparer.Ordinal).ThenBy(k => k.Policy, StringComparer.Ordinal))
        {
            var before = previous.GetValueOrDefault((kind, policy)) ?? [];
            var after = current.GetValueOrDefault((kind, policy)) ?? [];
            var valueChanged = after.Intersect(before).Count(reference =>
                _fingerprints.TryGetValue(new SecretSlot(kind, policy, reference), out var old)
                && fingerprints.TryGetValue(new SecretSlot(kind, policy, reference), out var now)
                && !CryptographicOperations.FixedTimeEquals(old, now));
            var rotation = new SecretRotation
            {
                Kind = kind,
                Policy = policy,
                Added = after.Except(before).Count(),
                Removed = before.Except(after).Count(),
                ValueChanged = valueChanged,
            };
            if (rotation.Added + rotation.Removed + rotation.ValueChanged > 0)
            {
                rotations.Add(rotation);
            }
        }

        return rotations;
    }

    private static IEnumerable<SecretRotation> CompareApiKeys(EdgeSection previous, EdgeSection current)
    {
        foreach (var policy in previous.Authentication.Keys.Union(current.Authentication.Keys).Order(StringComparer.Ordinal))
        {
            var before = KeyHashes(previous, policy);
            var after = KeyHashes(current, policy);
            var added = after.Except(before).Order(StringComparer.Ordinal).ToList();
            var removed = before.Except(after).Order(StringComparer.Ordinal).ToList();
            if (added.Count + removed.Count > 0)
            {
                yield return new SecretRotation
                {
                    Kind = SecretRotationKinds.ApiKey,
                    Policy = policy,
                    Added = added.Count,
                    Removed = removed.Count,
                    AddedKeyPrefixes = [.. added.Select(h => h[..Math.Min(8, h.Length)])],
                    RemovedKeyPrefixes = [.. removed.Select(h => h[..Math.Min(8, h.Length)])],
                };
            }
        }
    }

    private static HashSet<string> KeyHashes(EdgeSection section, string policy) =>
        section.Authentication.TryGetValue(policy, out var options)
            ? options.Keys.Select(k => k.Sha256.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal)
            : [];

    private static Dictionary<(string Kind, string Policy), HashSet<string>> References(EdgeSection section)
    {
        var references = new Dictionary<(string Kind, string Policy), HashSet<string>>();
        void Add(string kind, string policy, IEnumerable<string?> values)
        {
            var set = values.OfType<string>().ToHashSet(StringComparer.Ordinal);
            if (set.Count > 0)
            {
                references[(kind, policy)] = set;
            }
        }

        foreach (var (name, webhook) in section.Webhooks)
        {
            Add(SecretRotationKinds.WebhookSecret, name, webhook.Secrets);
            Add(SecretRotationKinds.WebhookVerifyToken, name, webhook.VerifyTokens);
        }

        foreach (var (name, authentication) in section.Authentication)
        {
            Add(SecretRotationKinds.JwtSigningKey, name, [authentication.SigningKey]);
            Add(SecretRotationKinds.IdentitySigningKey, name, [authentication.IdentitySigningKey]);
        }

        return references;
    }

    private Dictionary<SecretSlot, byte[]> Fingerprint(Dictionary<(string Kind, string Policy), HashSet<string>> references)
    {
        var fingerprints = new Dictionary<SecretSlot, byte[]>();
        foreach (var ((kind, policy), set) in references)
        {
            foreach (var reference in set)
            {
                // An unresolvable reference was already refused by validation; without a value there is nothing to compare.
                if (SecretReference.TryResolve(reference, out var value, out _))
                {
                    fingerprints[new SecretSlot(kind, policy, reference)] = HMACSHA256.HashData(_fingerprintKey, Encoding.UTF8.GetBytes(value));
                }
            }
        }

        return fingerprints;
    }

    private readonly record struct SecretSlot(string Kind, string Policy, string Reference);
}
