
namespace Edge.Configuration.Webhooks;

/// <summary>A named webhook verification policy (<c>Edge:Webhooks:{name}</c> in proxy.json).</summary>
internal sealed record WebhookPolicyOptions
{
    /// <summary>The largest body a policy may allow: GitHub's maximum payload size.</summary>
    public const long MaxAllowedBodyBytes = 25L * 1024 * 1024;

    /// <summary>1 MiB, the default body cap of every edge step that reads the body.</summary>
    public const long DefaultMaxBodyBytes = 1024 * 1024;

    /// <summary><c>GitHub</c>, <c>Meta</c>, <c>Telegram</c>, <c>Stripe</c>, <c>Slack</c>, <c>StandardWebhooks</c> or <c>Generic</c>.</summary>
    public string Scheme { get; init; } = "";

    /// <summary>Secret references (<c>env:NAME</c> or <c>file:/path</c>); several allow rotation by overlap.</summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];

    /// <summary>Bodies larger than this are refused with 413 and never forwarded (at most 25 MiB).</summary>
    public long MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    /// <summary>How far a signed timestamp may lie in the past or the future (schemes with a timestamp).</summary>
    public TimeSpan Tolerance { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Rejects a second delivery with the same id (true by default).</summary>
    public bool ReplayProtection { get; init; } = true;

    /// <summary>How long a seen delivery id is remembered; must exceed twice <see cref="Tolerance"/>. Default: 2 × Tolerance + 1 min, or 24 h for schemes without a timestamp.</summary>
    public TimeSpan? ReplayTtl { get; init; }

    /// <summary>Status answered for a replayed delivery (default 409; 200 makes a retrying sender stop).</summary>
    public int ReplayStatus { get; init; } = 409;

    /// <summary>JSON pointer into the verified body that identifies a delivery, overriding the scheme's default id.</summary>
    public string? DeliveryIdPointer { get; init; }

    /// <summary>
    /// What to do when the configured Redis cannot be reached: <c>Reject</c> (503, the default: the sender retries and
    /// no instance accepts a replay meanwhile) or <c>Local</c> (each instance's own cache: available, but a replay to
    /// another instance is not caught until Redis is back).
    /// </summary>
    public string OnRedisUnavailable { get; init; } = "Reject";

    /// <summary>Meta: secret references of the verify tokens accepted by the <c>GET</c> subscribe handshake.</summary>
    public IReadOnlyList<string> VerifyTokens { get; init; } = [];

    /// <summary>Generic: the header carrying the signature.</summary>
    public string? SignatureHeader { get; init; }

    /// <summary>Generic: text before the encoded signature in the header, e.g. <c>sha256=</c>.</summary>
    public string SignaturePrefix { get; init; } = "";

    /// <summary>Generic: <c>HmacSha256</c> (default) or <c>HmacSha512</c>.</summary>
    public string Algorithm { get; init; } = "HmacSha256";

    /// <summary>Generic: <c>Hex</c> (lower-case, default) or <c>Base64</c>.</summary>
    public string Encoding { get; init; } = "Hex";

    /// <summary>Generic: what is signed, e.g. <c>{id}.{timestamp}.{body}</c>; placeholders <c>{body}</c>, <c>{id}</c>, <c>{timestamp}</c>, <c>{header:Name}</c>.</summary>
    public string SignedContent { get; init; } = "{body}";

    /// <summary>Generic: header with the Unix timestamp in seconds; enables the timestamp window.</summary>
    public string? TimestampHeader { get; init; }

    /// <summary>Generic: header with the delivery id; enables replay protection on it.</summary>
    public string? IdHeader { get; init; }
}
