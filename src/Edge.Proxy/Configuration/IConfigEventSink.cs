namespace Edge.Proxy.Configuration;

/// <summary>Receives config security events (applied, refused), e.g. to write them to the audit trail.</summary>
internal interface IConfigEventSink
{
    /// <summary>
    /// A config was applied. <paramref name="previous"/> is the Edge section it replaced, or null on the first load, so a
    /// sink can tell which secrets and keys were rotated.
    /// </summary>
    void ConfigApplied(string revisionId, string contentHash, EdgeSection? previous, EdgeSection current);

    void ConfigRefused(IReadOnlyList<ConfigError> errors);
}
