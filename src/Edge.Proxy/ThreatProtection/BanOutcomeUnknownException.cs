namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// A ban change was sent to Redis but not answered in time: it may still be applied. The management API answers 503
/// <c>ban_outcome_unknown</c>, and the change is audited if Redis turns out to have applied it.
/// </summary>
internal sealed class BanOutcomeUnknownException(Exception inner) : Exception("Redis did not answer the ban change in time", inner);
