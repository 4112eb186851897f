namespace Edge.AuditWriter.Hosting;

/// <summary>The <c>Writer</c> configuration section.</summary>
public sealed record WriterOptions
{
    /// <summary>The SQLite file (Writer:StorePath); unused when <see cref="Postgres"/> is set.</summary>
    public string StorePath { get; init; } = "audit.db";

    /// <summary>
    /// The PostgreSQL store's Npgsql connection string (Writer:Postgres): a secret reference (<c>env:NAME</c> or
    /// <c>file:/path</c>), or inline when it holds no password. Set: records, checkpoints and subject keys live in PostgreSQL
    /// and several writers may share it (one sequences, the others stand by). Absent: the SQLite file.
    /// </summary>
    public string? Postgres { get; init; }

    /// <summary>How often a standby tries to take the sequencer lease, and the leader checks its lease connection.</summary>
    public TimeSpan LeaseInterval { get; init; } = TimeSpan.FromSeconds(1);

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

    /// <summary>
    /// The subject master key (base64 of 32 random bytes): wraps every per-subject data key and keys the blind index.
    /// Generated on first start (mode 0600). Losing it makes every protected subject unreadable; back it up with the signing key.
    /// </summary>
    public string SubjectKeyPath { get; init; } = "keys/audit-subject.key";

    /// <summary>How long records keep their bodies and subjects (Writer:Retention).</summary>
    public RetentionOptions Retention { get; init; } = new();

    public int MaxIngestBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>
    /// How many ingest batches the writer holds at once, being read, parsed or waiting for their commit
    /// (Writer:MaxConcurrentIngests); one more is answered 503 <c>ingest_busy</c> with <c>Retry-After</c> before its body is
    /// read. Each edge sends one batch at a time, so this is how many edges can post at the same moment. A bound on the
    /// writer's memory for batches: about this many times Writer:MaxIngestBytes, twice over (body and parsed records).
    /// </summary>
    public int MaxConcurrentIngests { get; init; } = 16;

    /// <summary>
    /// The largest record ingest takes (Writer:MaxRecordBytes), as sent. A page of the read API holds up to 1,000 records,
    /// so without it a few batches of 30 MB records made one page tens of gigabytes. The edge's records are far smaller
    /// (about 17 KB measured for a path at Kestrel's 8 KiB request-line limit, docs/audit.md), and one over the cap stops
    /// its edge's shipping at it, so the default stays well above them.
    /// </summary>
    public int MaxRecordBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// How many subjects (principal or client IP, per tenant) keep their unwrapped data key in the writer's memory
    /// between batches (Writer:SubjectKeyCacheSize), least recently used evicted; about 300 bytes each (196 measured,
    /// plus the principal and tenant strings). 0 turns the cache off. Erasure, retention and a lease takeover clear it.
    /// </summary>
    public int SubjectKeyCacheSize { get; init; } = 100_000;

    /// <summary>
    /// Serve the hash tiles (<c>/tile/&lt;L&gt;/&lt;N&gt;</c>) without credentials, as public tlog-tiles logs do (Writer:PublicTiles).
    /// Off by default: then a caller needs audit.tiles, audit.read or audit.read.all. Entry bundles always need audit.read.all.
    /// </summary>
    public bool PublicTiles { get; init; }
}

/// <summary>The <c>Writer:Retention</c> section. Absent <see cref="Default"/> and no tenant entries: keep forever.</summary>
public sealed record RetentionOptions
{
    /// <summary>Retention of records whose tenant has no entry in <see cref="Tenants"/>; null keeps them forever.</summary>
    public TimeSpan? Default { get; init; }

    /// <summary>Per-tenant retention (<c>Writer:Retention:Tenants:&lt;tenant&gt;</c>), overriding <see cref="Default"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> Tenants { get; init; } = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);

    /// <summary>How often the retention job runs.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromHours(1);

    public bool Enabled => Default is not null || Tenants.Count > 0;
}
