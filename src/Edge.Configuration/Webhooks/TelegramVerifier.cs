namespace Edge.Configuration.Webhooks;

/// <summary>
/// Telegram: a static secret token in <c>X-Telegram-Bot-Api-Secret-Token</c>, compared in constant time. Telegram signs
/// nothing, so the body is authenticated only by the token (and the delivery id is <c>update_id</c> from the body).
/// </summary>
internal sealed class TelegramVerifier(IReadOnlyList<string> tokens) : IWebhookVerifier
{
    public const string TokenHeader = "X-Telegram-Bot-Api-Secret-Token";

    public IReadOnlyList<string> SignedHeaders { get; } = [TokenHeader];

    public WebhookVerification? MissingSignature(IHeaderDictionary headers) =>
        SignatureBytes.Single(headers, TokenHeader).Missing ? WebhookVerification.Missing("header_absent") : null;

    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        var header = SignatureBytes.Single(headers, TokenHeader);
        if (header.Missing)
        {
            return WebhookVerification.Missing("header_absent");
        }

        if (header.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        var matched = false;
        foreach (var token in tokens)
        {
            // Every token is compared, so the time taken does not depend on which one matched.
            matched |= SignatureBytes.TokenEquals(token, header.Value);
        }

        return matched ? WebhookVerification.Valid() : WebhookVerification.Invalid("mismatch");
    }

    /// <summary>Telegram accepts 1-256 characters of <c>A-Z a-z 0-9 _ -</c>.</summary>
    public static bool IsValidToken(string token) =>
        token.Length is >= 1 and <= 256 && token.All(c => c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '-');
}
