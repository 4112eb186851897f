using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// A webhook policy ready to serve: options checked, secrets resolved into key material for its scheme. Built for
/// validation and again for every config revision, so secrets reload with the config.
/// </summary>
internal sealed class WebhookPolicy
{
    private const string StandardSecretPrefix = "whsec_";
    private const string StandardPublicKeyPrefix = "whpk_";

    /// <summary>
    /// The shortest HMAC secret or Telegram token accepted: 128 bits. RFC 2104 discourages HMAC keys shorter than the hash
    /// output, and every provider-issued secret is longer (Slack and Meta 32 hex characters, Stripe <c>whsec_</c> and 32 more,
    /// Standard Webhooks 24 bytes and up); a short one is found offline from a single signed delivery, or guessed online as a
    /// Telegram token.
    /// </summary>
    public const int MinSecretBytes = 16;

    private WebhookPolicy(string name, WebhookScheme scheme, WebhookPolicyOptions options, IWebhookVerifier verifier, IReadOnlyList<string> verifyTokens)
    {
        Name = name;
        Scheme = scheme;
        Options = options;
        Verifier = verifier;
        VerifyTokens = verifyTokens;
        DeliveryIdPointer = options.DeliveryIdPointer ?? scheme switch
        {
            WebhookScheme.Stripe => "/id",
            WebhookScheme.Telegram => "/update_id",
            _ => null,
        };
        HasTimestamp = scheme is WebhookScheme.Stripe or WebhookScheme.Slack or WebhookScheme.StandardWebhooks
            || (scheme == WebhookScheme.Generic && options.TimestampHeader is not null);

        // A Generic TimestampHeader or IdHeader that SignedContent leaves out can be rewritten by whoever captured a
        // delivery: a fresh timestamp passes the window, a fresh id passes the id check. Only signed ones are trusted.
        var template = scheme == WebhookScheme.Generic && GenericHmacSettings.TryParseTemplate(options.SignedContent, out var parts, out _) ? parts : [];
        var timestampSigned = scheme is WebhookScheme.Stripe or WebhookScheme.Slack or WebhookScheme.StandardWebhooks
            || template.Any(p => p.Kind == TemplatePartKind.Timestamp);
        var deliveryIdSigned = scheme is WebhookScheme.Stripe or WebhookScheme.Slack or WebhookScheme.StandardWebhooks
            || (scheme == WebhookScheme.Generic && (options.DeliveryIdPointer is not null || template.Any(p => p.Kind == TemplatePartKind.Id)));
        ReservesSignature = !(timestampSigned && deliveryIdSigned);
        ReplayTtl = options.ReplayTtl ?? (timestampSigned ? (2 * options.Tolerance) + TimeSpan.FromMinutes(1) : TimeSpan.FromHours(24));
    }

    /// <summary>
    /// Whether the verified signature is reserved against replay besides the delivery id: unless both a timestamp and
    /// the delivery id are signed, a captured delivery could be sent again with a fresh id (or timestamp).
    /// </summary>
    public bool ReservesSignature { get; }

    public string Name { get; }

    public WebhookScheme Scheme { get; }

    public WebhookPolicyOptions Options { get; }

    public IWebhookVerifier Verifier { get; }

    /// <summary>Meta subscribe handshake tokens (resolved values).</summary>
    public IReadOnlyList<string> VerifyTokens { get; }

    public string? DeliveryIdPointer { get; }

    public bool HasTimestamp { get; }

    public TimeSpan ReplayTtl { get; }

    /// <summary>Whether a verified delivery must carry an id for the replay check.</summary>
    public bool HasDeliveryId => Options.ReplayProtection && (DeliveryIdPointer is not null || Scheme switch
    {
        WebhookScheme.GitHub or WebhookScheme.Meta or WebhookScheme.StandardWebhooks or WebhookScheme.Slack => true,
        WebhookScheme.Generic => Options.IdHeader is not null,
        _ => false,
    });

    /// <summary>Builds the policy; every problem is added to <paramref name="errors"/> under <c>Edge:Webhooks:{name}</c>.</summary>
    public static WebhookPolicy? TryCreate(string name, WebhookPolicyOptions options, ConfigErrorList errors)
    {
        var location = $"Edge:Webhooks:{name}";
        var before = errors.Errors.Count();
        if (!EnumName.TryParse<WebhookScheme>(options.Scheme, out var scheme))
        {
            var schemes = string.Join(", ", Enum.GetNames<WebhookScheme>());
            errors.Add(location + ":Scheme", string.IsNullOrWhiteSpace(options.Scheme)
                ? $"is required: one of {schemes}"
                : $"unknown scheme '{options.Scheme}'; use {schemes}");
            return null;
        }

        if (options.MaxBodyBytes is < 1 or > WebhookPolicyOptions.MaxAllowedBodyBytes)
        {
            errors.Add(location + ":MaxBodyBytes", $"must be between 1 and {WebhookPolicyOptions.MaxAllowedBodyBytes} (25 MiB)");
        }

        if (options.Tolerance < TimeSpan.FromSeconds(1) || options.Tolerance > TimeSpan.FromHours(1))
        {
            errors.Add(location + ":Tolerance", "must be between 00:00:01 and 01:00:00");
        }

        if (options.ReplayTtl is { } ttl && (ttl <= 2 * options.Tolerance || ttl > TimeSpan.FromDays(30)))
        {
            errors.Add(location + ":ReplayTtl", "must be longer than twice Tolerance (a replay must not outlive its id) and at most 30 days");
        }

        if (options.ReplayStatus is < 200 or > 599)
        {
            errors.Add(location + ":ReplayStatus", "must be an HTTP status between 200 and 599");
        }

        if (options.DeliveryIdPointer is { } pointer && (pointer.Length < 2 || pointer[0] != '/'))
        {
            errors.Add(location + ":DeliveryIdPointer", $"'{pointer}' is not a JSON pointer such as /event/id");
        }

        if (!string.Equals(options.OnRedisUnavailable, "Local", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(options.OnRedisUnavailable, "Reject", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(location + ":OnRedisUnavailable", $"'{options.OnRedisUnavailable}' is not valid; use Local or Reject");
        }

        if (scheme != WebhookScheme.Meta && options.VerifyTokens.Count > 0)
        {
            errors.Add(location + ":VerifyTokens", "only the Meta scheme answers the subscribe handshake");
        }

        if (scheme != WebhookScheme.Generic)
        {
            var genericOnly = new (string Field, bool Set)[]
            {
                ("SignatureHeader", options.SignatureHeader is not null),
                ("SignaturePrefix", options.SignaturePrefix.Length > 0),
                ("Algorithm", options.Algorithm != "HmacSha256"),
                ("Encoding", options.Encoding != "Hex"),
                ("SignedContent", options.SignedContent != "{body}"),
                ("TimestampHeader", options.TimestampHeader is not null),
                ("IdHeader", options.IdHeader is not null),
            };
            foreach (var (field, set) in genericOnly.Where(g => g.Set))
            {
                errors.Add(location + ":" + field, "is an option of the Generic scheme only");
            }
        }

        // Standard Webhooks keys are decoded and checked by their own rules (whsec_ 24-64 bytes, whpk_ a public key).
        var secrets = ResolveAll(options.Secrets, location + ":Secrets", errors, scheme == WebhookScheme.StandardWebhooks ? 0 : MinSecretBytes);
        if (options.Secrets.Count == 0)
        {
            errors.Add(location + ":Secrets", "at least one secret reference (env:NAME or file:/path) is required");
        }

        var verifyTokens = ResolveAll(options.VerifyTokens, location + ":VerifyTokens", errors, minBytes: 0);
        var verifier = CreateVerifier(scheme, options, secrets, location, errors);
        if (verifier is null || errors.Errors.Count() > before)
        {
            return null;
        }

        return new WebhookPolicy(name, scheme, options, verifier, verifyTokens);
    }

    private static List<string> ResolveAll(IReadOnlyList<string> references, string location, ConfigErrorList errors, int minBytes)
    {
        var values = new List<string>(references.Count);
        for (var i = 0; i < references.Count; i++)
        {
            if (SecretReference.TryResolve(references[i], out var value, out var error))
            {
                if (Encoding.UTF8.GetByteCount(value) < minBytes)
                {
                    errors.Add($"{location}[{i}]", $"is shorter than {minBytes} bytes, short enough to be guessed: use a random value such as the output of 'openssl rand -hex 32'");
                }

                values.Add(value);
            }
            else
            {
                errors.Add($"{location}[{i}]", error);
            }
        }

        return values;
    }

    private static IWebhookVerifier? CreateVerifier(WebhookScheme scheme, WebhookPolicyOptions options, List<string> secrets, string location, ConfigErrorList errors)
    {
        var utf8Keys = secrets.Select(Encoding.UTF8.GetBytes).ToList();
        switch (scheme)
        {
            case WebhookScheme.GitHub:
                return new HubSignatureVerifier(utf8Keys, HubSignatureVerifier.GitHubDeliveryHeader);
            case WebhookScheme.Meta:
                return new HubSignatureVerifier(utf8Keys, deliveryHeader: null);
            case WebhookScheme.Slack:
                return new SlackVerifier(utf8Keys);
            case WebhookScheme.Stripe:
                // Stripe keys the HMAC with the whole whsec_ string; the prefix is part of the key, not an encoding.
                return new StripeVerifier(utf8Keys);
            case WebhookScheme.Telegram:
                for (var i = 0; i < secrets.Count; i++)
                {
                    if (!TelegramVerifier.IsValidToken(secrets[i]))
                    {
                        errors.Add($"{location}:Secrets[{i}]", "a Telegram secret token is at most 256 characters of A-Z, a-z, 0-9, '_' and '-'");
                    }
                }

                return new TelegramVerifier(secrets);
            case WebhookScheme.StandardWebhooks:
                return CreateStandardWebhooks(secrets, location, errors);
            case WebhookScheme.Generic:
                return CreateGeneric(options, utf8Keys, location, errors);
            default:
                return null;
        }
    }

    private static StandardWebhooksVerifier CreateStandardWebhooks(List<string> secrets, string location, ConfigErrorList errors)
    {
        var hmacKeys = new List<byte[]>();
        var publicKeys = new List<PublicKey>();
        for (var i = 0; i < secrets.Count; i++)
        {
            var secret = secrets[i];
            if (secret.StartsWith(StandardSecretPrefix, StringComparison.Ordinal))
            {
                // Standard Webhooks: the key is the base64 payload after whsec_ (unlike Stripe's whsec_, used as-is).
                if (TryFromBase64(secret[StandardSecretPrefix.Length..], out var key) && key.Length is >= 24 and <= 64)
                {
                    hmacKeys.Add(key);
                    continue;
                }

                errors.Add($"{location}:Secrets[{i}]", "a whsec_ secret must be followed by base64 of 24 to 64 bytes");
            }
            else if (secret.StartsWith(StandardPublicKeyPrefix, StringComparison.Ordinal))
            {
                if (TryFromBase64(secret[StandardPublicKeyPrefix.Length..], out var raw) && raw.Length == 32
                    && PublicKey.TryImport(SignatureAlgorithm.Ed25519, raw, KeyBlobFormat.RawPublicKey, out var publicKey) && publicKey is not null)
                {
                    publicKeys.Add(publicKey);
                    continue;
                }

                errors.Add($"{location}:Secrets[{i}]", "a whpk_ key must be followed by base64 of a 32-byte Ed25519 public key");
            }
            else
            {
                errors.Add($"{location}:Secrets[{i}]", "a Standard Webhooks secret starts with whsec_ (HMAC, v1) or whpk_ (Ed25519 public key, v1a)");
            }
        }

        return new StandardWebhooksVerifier(hmacKeys, publicKeys);
    }

    private static GenericHmacVerifier? CreateGeneric(WebhookPolicyOptions options, List<byte[]> keys, string location, ConfigErrorList errors)
    {
        if (string.IsNullOrWhiteSpace(options.SignatureHeader))
        {
            errors.Add(location + ":SignatureHeader", "the Generic scheme needs the header that carries the signature");
            return null;
        }

        // A name no request can carry (a space, a colon) refused every delivery as unsigned.
        var badHeader = false;
        foreach (var (field, header) in (ReadOnlySpan<(string, string?)>)[("SignatureHeader", options.SignatureHeader), ("TimestampHeader", options.TimestampHeader), ("IdHeader", options.IdHeader)])
        {
            if (header is not null && !HttpToken.IsToken(header))
            {
                errors.Add($"{location}:{field}", $"'{header}' is not a header name ({HttpToken.NameRule})");
                badHeader = true;
            }
            else if (header is not null && EdgeOwnedHeaders.WhyOwned(header) is { } owned)
            {
                // IdHeader X-Request-Id gave every delivery a new id: a replayed delivery was never recognised.
                errors.Add($"{location}:{field}", $"{owned}; name the header the sender sets");
                badHeader = true;
            }
        }

        if (badHeader)
        {
            return null;
        }

        HashAlgorithmName algorithm;
        if (string.Equals(options.Algorithm, "HmacSha256", StringComparison.OrdinalIgnoreCase))
        {
            algorithm = HashAlgorithmName.SHA256;
        }
        else if (string.Equals(options.Algorithm, "HmacSha512", StringComparison.OrdinalIgnoreCase))
        {
            algorithm = HashAlgorithmName.SHA512;
        }
        else
        {
            errors.Add(location + ":Algorithm", $"'{options.Algorithm}' is not supported; use HmacSha256 or HmacSha512");
            return null;
        }

        var base64 = string.Equals(options.Encoding, "Base64", StringComparison.OrdinalIgnoreCase);
        if (!base64 && !string.Equals(options.Encoding, "Hex", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(location + ":Encoding", $"'{options.Encoding}' is not supported; use Hex or Base64");
            return null;
        }

        if (!GenericHmacSettings.TryParseTemplate(options.SignedContent, out var template, out var error))
        {
            errors.Add(location + ":SignedContent", error);
            return null;
        }

        if (template.Any(p => p.Kind == TemplatePartKind.Timestamp) && options.TimestampHeader is null)
        {
            errors.Add(location + ":SignedContent", "{timestamp} needs TimestampHeader");
            return null;
        }

        if (template.Any(p => p.Kind == TemplatePartKind.Id) && options.IdHeader is null)
        {
            errors.Add(location + ":SignedContent", "{id} needs IdHeader");
            return null;
        }

        var settings = new GenericHmacSettings(options.SignatureHeader, options.SignaturePrefix, algorithm, base64, template, options.TimestampHeader, options.IdHeader);
        return new GenericHmacVerifier(settings, keys);
    }

    private static bool TryFromBase64(string text, out byte[] bytes)
    {
        bytes = new byte[(text.Length * 3 / 4) + 3];
        if (Convert.TryFromBase64String(text, bytes, out var written))
        {
            bytes = bytes[..written];
            return true;
        }

        return false;
    }
}
