namespace Edge.AuditWriter.Hosting;

/// <summary>The <c>Writer</c> configuration section.</summary>
public sealed record WriterOptions
{
    /// <summary>The SQLite file (Writer:StorePath).</summary>
    public string StorePath { get; init; } = "audit.db";

    /// <summary>The Ed25519 signing key in signed-note private-key form; generated on first start when absent.</summary>
    public string KeyPath { get; init; } = "keys/audit-writer.key";

    /// <summary>Older or newer keys that co-sign every checkpoint during a rotation overlap.</summary>
    public IReadOnlyList<string> AdditionalKeyPaths { get; init; } = [];

    /// <summary>The checkpoint origin line, also the key name of a generated key.</summary>
    public string Origin { get; init; } = "edge-audit";

    /// <summary>The proxy.json whose Edge:Authentication and Edge:Roles the read API reuses.</summary>
    public string? ProxyConfigPath { get; init; }

    /// <summary>The name of the Edge:Authentication entry the read API accepts.</summary>
    public string? Authentication { get; init; }

    /// <summary>
    /// Secret reference (<c>env:NAME</c> or <c>file:/path</c>) of the bearer token edges must present on ingest.
    /// Absent: ingest is open to anyone who can reach the port (a warning is logged at start).
    /// </summary>
    public string? IngestToken { get; init; }

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(1);

    public int MaxIngestBytes { get; init; } = 32 * 1024 * 1024;
}
