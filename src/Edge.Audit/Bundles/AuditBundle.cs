namespace Edge.Audit.Bundles;

/// <summary>
/// The layout of an export bundle (a POSIX ustar archive), shared by the writer that streams it and the offline
/// verifier (docs/audit.md, "Export bundles"). Entries come in this order:
/// <c>checkpoint.txt</c>, <c>key.txt</c>, then pairs <c>records/NNNNNN.ndjson</c> + <c>proofs/NNNNNN.ndjson</c>
/// (line i of a proofs chunk is the inclusion proof of line i of its records chunk), then <c>manifest.json</c>.
/// The manifest comes last because the record count is known only once the stream has ended.
/// </summary>
public static class AuditBundle
{
    public const string Format = "urn:edge:audit:bundle:1";
    public const string ContentType = "application/x-tar";
    public const string CheckpointEntry = "checkpoint.txt";
    public const string KeyEntry = "key.txt";
    public const string ManifestEntry = "manifest.json";

    /// <summary>Records per chunk: bounds the memory of writer and verifier whatever the export size.</summary>
    public const int ChunkSize = 1000;

    public static string RecordsEntry(int chunk) => $"records/{chunk:D6}.ndjson";

    public static string ProofsEntry(int chunk) => $"proofs/{chunk:D6}.ndjson";
}
