namespace Edge.Proxy.Pipeline;

/// <summary>
/// The webhook signature check of the request: the scheme, and <c>valid</c> or the precise failure reason. Set by
/// Webhooks (or by body buffering when a signed body was refused), read by the audit record.
/// </summary>
internal sealed record EdgeSignatureFeature(string Scheme, string Result);
