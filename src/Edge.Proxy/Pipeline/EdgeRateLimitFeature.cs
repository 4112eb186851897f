namespace Edge.Proxy.Pipeline;

/// <summary>
/// The rate-limit outcome of the request (e.g. <c>allowed</c>, <c>limited</c>, <c>redis-unavailable-open</c>). Set by
/// rate limiting (step or route policy), read by the audit record.
/// </summary>
internal sealed record EdgeRateLimitFeature(string Outcome);
