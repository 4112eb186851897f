namespace Edge.FunctionalTests.Webhooks;

internal enum SignatureKind
{
    Hex,
    Base64,
    Token,
}

/// <summary>How a test sends deliveries for one scheme and where its signature sits in the headers.</summary>
internal sealed class SchemeUnderTest
{
    public required string Name { get; init; }

    public required string Path { get; init; }

    public required string SignatureHeader { get; init; }

    /// <summary>The text right before the encoded signature in the header value (empty for a bare token).</summary>
    public required string Marker { get; init; }

    public required SignatureKind Kind { get; init; }

    public bool HasTimestamp { get; init; }

    public bool SignsBody { get; init; } = true;

    public bool HasReplayId { get; init; } = true;

    /// <summary>Signs <c>body</c> at <c>timestamp</c> with delivery id <c>id</c>, with the configured secret or a wrong one.</summary>
    public required Func<long, string, byte[], bool, Delivery> Sign { get; init; }

    /// <summary>Rewrites the timestamp the delivery claims without re-signing.</summary>
    public Func<Delivery, long, Delivery>? SetTimestamp { get; init; }

    public override string ToString() => Name;

    /// <summary>A JSON body with a unique id, non-ASCII text, an escape and spacing, so any re-encoding changes its bytes.</summary>
    public static byte[] Body(string id, long sequence) =>
        WebhookSigner.Utf8($"{{\"id\": \"evt_{id}\", \"update_id\": {sequence}, \"text\": \"h\\u00e9llo \u00e9t\u00e9 <b>\", \"amount\": 1.50, \"sender\": {{\"id\": \"s-1\"}}}}");

    public (string Before, string Encoded) SplitSignature(string headerValue)
    {
        var index = Marker.Length == 0 ? 0 : headerValue.LastIndexOf(Marker, StringComparison.Ordinal) + Marker.Length;
        return (headerValue[..index], headerValue[index..]);
    }
}
