namespace Edge.Configuration.Validation;

/// <summary>Stable error codes of the validation step (the <c>code</c> of its problem+json answers).</summary>
internal static class ValidationCodes
{
    /// <summary>422: the body is not JSON, nests too deeply, repeats a property name or does not match the schema.</summary>
    public const string BodyInvalid = "body_invalid";

    /// <summary>413: the body is over <c>MaxBodyBytes</c> (the code body buffering uses for every step).</summary>
    public const string BodyTooLarge = "body_too_large";

    /// <summary>415: the body's media type is not one of <c>ContentTypes</c>.</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";

    /// <summary>422: a query parameter breaks its rule, a required one is missing, or an unknown one is not allowed.</summary>
    public const string QueryInvalid = "query_invalid";
}
