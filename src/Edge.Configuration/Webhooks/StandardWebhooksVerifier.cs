using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// Standard Webhooks (and Svix, with <c>svix-</c> headers): <c>webhook-signature</c> is a space-separated list of
/// <c>v1,&lt;base64 HMAC-SHA256&gt;</c> and <c>v1a,&lt;base64 Ed25519&gt;</c> entries over <c>"{webhook-id}.{webhook-timestamp}." + body</c>.
/// Any entry of a supported version that verifies with any active key is accepted. Svix sends both header sets with the
/// same values; when both arrive, the <c>webhook-</c> set is verified and each <c>svix-</c> header must equal its twin
/// (and when only <c>svix-</c> headers carry the signature, each <c>webhook-</c> header sent must equal its twin), so
/// that a backend reading either set of names never receives values the edge did not verify.
/// </summary>
internal sealed class StandardWebhooksVerifier(IReadOnlyList<byte[]> hmacKeys, IReadOnlyList<PublicKey> publicKeys) : IWebhookVerifier
{
    /// <summary>
    /// The most entries of a version the policy verifies that one list may carry. A sender lists one per active key, so a
    /// rotation needs two or three; every <c>v1a</c> entry costs a pass over the body, and the request's header limit alone
    /// let one unsigned request ask for hundreds.
    /// </summary>
    public const int MaxSignatures = 8;

    public IReadOnlyList<string> SignedHeaders { get; } =
        ["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature"];

    public WebhookVerification? MissingSignature(IHeaderDictionary headers)
    {
        var prefix = HeaderPrefix(headers);
        var signature = SignatureBytes.Single(headers, prefix + "signature");
        var id = SignatureBytes.Single(headers, prefix + "id");
        var timestampHeader = SignatureBytes.Single(headers, prefix + "timestamp");
        return signature.Missing || id.Missing || timestampHeader.Missing
            ? WebhookVerification.Missing(signature.Missing ? "header_absent" : id.Missing ? "id_absent" : "timestamp_absent")
            : null;
    }

    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        if (MissingSignature(headers) is { } missing)
        {
            return missing;
        }

        var prefix = HeaderPrefix(headers);
        var id = SignatureBytes.Single(headers, prefix + "id");
        var timestampHeader = SignatureBytes.Single(headers, prefix + "timestamp");
        var signature = SignatureBytes.Single(headers, prefix + "signature");
        if (signature.IsAmbiguous || id.IsAmbiguous || timestampHeader.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        // Either set may be the verified one (Svix alone sends only svix- names); the other set must repeat it exactly.
        var twin = prefix == "webhook-" ? "svix-" : "webhook-";
        if (Conflicts(headers, twin + "id", id.Value) || Conflicts(headers, twin + "timestamp", timestampHeader.Value) || Conflicts(headers, twin + "signature", signature.Value))
        {
            return WebhookVerification.Invalid("header_conflict");
        }

        if (!UnixTimestamp.TryParse(timestampHeader.Value, out var timestamp))
        {
            return WebhookVerification.Invalid("timestamp_malformed");
        }

        var entries = signature.Value!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var supported = 0;
        foreach (var entry in entries)
        {
            supported += IsSupported(Version(entry)) ? 1 : 0;
        }

        if (supported > MaxSignatures)
        {
            return WebhookVerification.Invalid("too_many_signatures");
        }

        var signedPrefix = Encoding.UTF8.GetBytes(id.Value + "." + timestampHeader.Value + ".");
        byte[]? signedContent = null;
        // Each key's HMAC is computed once, however many v1 entries the list repeats.
        byte[][]? expectedMacs = null;
        Span<byte> given = stackalloc byte[64];
        foreach (var entry in entries)
        {
            var version = Version(entry);
            if (!IsSupported(version))
            {
                continue;
            }

            var encoded = entry.AsSpan(version.Length + 1);
            if (version.SequenceEqual("v1"))
            {
                if (!SignatureBytes.TryDecodeBase64(encoded, given, out var length) || length != 32)
                {
                    continue;
                }

                expectedMacs ??= Macs(signedPrefix, body);
                foreach (var expected in expectedMacs)
                {
                    if (SignatureBytes.FixedTimeEquals(expected, given[..32]))
                    {
                        return WebhookVerification.Valid(timestamp, id.Value);
                    }
                }
            }
            else
            {
                if (!SignatureBytes.TryDecodeBase64(encoded, given, out var length) || length != 64)
                {
                    continue;
                }

                signedContent ??= [.. signedPrefix, .. body];
                foreach (var key in publicKeys)
                {
                    if (SignatureAlgorithm.Ed25519.Verify(key, signedContent, given))
                    {
                        return WebhookVerification.Valid(timestamp, id.Value);
                    }
                }
            }
        }

        return WebhookVerification.Invalid(supported == 0 ? "no_supported_signature" : "mismatch");
    }

    /// <summary>The version before an entry's comma (<c>v1</c>, <c>v1a</c>); empty when it has none.</summary>
    private static ReadOnlySpan<char> Version(string entry) => entry.IndexOf(',', StringComparison.Ordinal) is > 0 and var comma ? entry.AsSpan(0, comma) : [];

    /// <summary>An entry of a version this policy has a key for.</summary>
    private bool IsSupported(ReadOnlySpan<char> version) =>
        (version.SequenceEqual("v1") && hmacKeys.Count > 0) || (version.SequenceEqual("v1a") && publicKeys.Count > 0);

    private byte[][] Macs(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> body)
    {
        var macs = new byte[hmacKeys.Count][];
        for (var i = 0; i < macs.Length; i++)
        {
            macs[i] = new byte[32];
            SignatureBytes.Hmac(HashAlgorithmName.SHA256, hmacKeys[i], prefix, body, macs[i]);
        }

        return macs;
    }

    /// <summary>True when the twin of a verified header is present with another value (or more than once).</summary>
    private static bool Conflicts(IHeaderDictionary headers, string twinName, string? verified) =>
        headers.TryGetValue(twinName, out var twin) && (twin.Count != 1 || !string.Equals(twin[0], verified, StringComparison.Ordinal));

    /// <summary>The <c>webhook-</c> names, or Svix's <c>svix-</c> twins when only those carry a signature.</summary>
    private static string HeaderPrefix(IHeaderDictionary headers) =>
        headers.ContainsKey("webhook-signature") || !headers.ContainsKey("svix-signature") ? "webhook-" : "svix-";
}
