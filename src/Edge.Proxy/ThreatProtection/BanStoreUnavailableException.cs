namespace Edge.Proxy.ThreatProtection;

/// <summary>Redis is configured but cannot take a ban change now; the management API answers 503.</summary>
internal sealed class BanStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
