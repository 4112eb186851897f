namespace Edge.Proxy.Configuration;

/// <summary>Receives config security events (applied, refused), e.g. to write them to the audit trail.</summary>
public interface IConfigEventSink
{
    void ConfigApplied(string revisionId, string contentHash);

    void ConfigRefused(IReadOnlyList<ConfigError> errors);
}
