namespace Edge.Configuration.Webhooks;

/// <summary>Verifies one scheme's signature over the raw body bytes, with the policy's active keys.</summary>
internal interface IWebhookVerifier
{
    WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body);

    /// <summary>
    /// The <c>signature_missing</c> verdict <see cref="Verify"/> would give, decided on the headers alone; null when
    /// <see cref="Verify"/> would give any other. Lets the edge refuse an unsigned delivery before it reads the body.
    /// </summary>
    WebhookVerification? MissingSignature(IHeaderDictionary headers);

    /// <summary>The headers whose values the verification reads (signature, timestamp, delivery id, signed headers).</summary>
    IReadOnlyList<string> SignedHeaders { get; }
}
