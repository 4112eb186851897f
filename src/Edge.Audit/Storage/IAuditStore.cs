using Edge.Audit.Tiles;

namespace Edge.Audit.Storage;

/// <summary>
/// What the writer and <c>edge audit verify</c> need from a store: one implementation per engine (<see cref="AuditStore"/> for
/// SQLite, <see cref="PostgresAuditStore"/> for PostgreSQL). Records, leaf hashes and checkpoints are append-only in both;
/// only subject key material (and, on SQLite, pruned bodies) ever goes away. Writes are serialised by the caller; reads may
/// run concurrently.
/// </summary>
public interface IAuditStore : IDisposable
{
    /// <summary>Where the store lives, for logs: a file path, or a PostgreSQL host/database without credentials.</summary>
    string Location { get; }

    long Count();

    /// <summary>
    /// Starts one append transaction from <paramref name="nextIndex"/>: the batch's records, subject links and new data
    /// keys commit together or not at all.
    /// </summary>
    IAuditAppendBatch BeginAppend(long nextIndex);

    /// <summary>Leaf hashes in index order from <paramref name="fromIndex"/>, as stored at append time.</summary>
    IEnumerable<byte[]> ReadLeafHashes(long fromIndex = 0);

    /// <summary>Every leaf with its index and stored hash, in index order.</summary>
    IEnumerable<StoredLeaf> ReadLeaves();

    /// <summary>The leaves [start, start + count) in index order: their bytes, empty once pruned.</summary>
    IReadOnlyList<byte[]> ReadLeafBytes(long start, int count);

    /// <summary>The stored tile (level, index): the full tile, or else the level's partial tile with this index; null when neither exists.</summary>
    Tile? ReadTile(int level, long index);

    /// <summary>False for a store no writer with tiles has opened yet.</summary>
    bool HasTiles();

    /// <summary>How many leaves the stored level-0 tiles cover (full tiles × 256 + the partial tile's width).</summary>
    long TiledSize();

    /// <summary>Writes tiles in a transaction of their own: only for the one-time build of tiles of records already stored.</summary>
    void WriteTiles(TileChanges changes);

    /// <summary>The wrapped data key of a subject, or null once it was erased or shredded.</summary>
    StoredSubjectKey? SubjectKey(long subjectId);

    /// <summary>
    /// Deletes the data keys of a subject (every tenant, or one) and stores its erasure tombstone (blind index, tenant
    /// scope, <paramref name="erasedAt"/>) in the same transaction; returns how many records became unreadable.
    /// <paramref name="principal"/> is null for a subject keyed by client IP (no v1 plaintext column to prune by).
    /// </summary>
    long EraseSubject(byte[] blind, string? principal, string? tenant, DateTimeOffset erasedAt);

    /// <summary>
    /// One retention step over records older than <paramref name="cutoff"/>: makes the personal content of up to about
    /// <paramref name="limit"/> of them unreadable and returns how many. SQLite prunes bodies to their leaf hash; PostgreSQL
    /// keeps every body and shreds the data keys of subjects with no record at or after the cutoff.
    /// </summary>
    int PruneBefore(DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit);

    /// <summary>
    /// Subjects whose records keep their id while their data key is gone, with the newest such record's index: PostgreSQL
    /// (a record's subject id stays). SQLite drops the links with the key, so it has none to report.
    /// </summary>
    IReadOnlyList<(long SubjectId, long LastIndex)> SubjectsWithoutKey();

    /// <summary>Data keys deleted by retention since the last call (SQLite: keys no remaining record uses are deleted now).</summary>
    int DeleteUnusedSubjects();

    /// <summary>Makes deleted bytes unrecoverable from the store's own files where the engine allows; false when it could not.</summary>
    bool TruncateWal();

    void AddCheckpoint(long size, byte[] root, string note, DateTimeOffset created);

    IReadOnlyList<StoredCheckpoint> Checkpoints();

    StoredCheckpoint? LatestCheckpoint();

    /// <summary>Newest first with <see cref="RecordQuery.Before"/> as cursor, or oldest first with <see cref="RecordQuery.After"/>.</summary>
    IReadOnlyList<StoredRecord> Query(RecordQuery query);

    /// <summary>Oldest first, streamed.</summary>
    IEnumerable<StoredRecord> Export(RecordQuery query);
}

/// <summary>One open append transaction; disposing it without <see cref="Commit"/> rolls it back.</summary>
public interface IAuditAppendBatch : IDisposable
{
    /// <summary>The leaf hashes appended so far, in index order.</summary>
    IReadOnlyList<byte[]> Appended { get; }

    /// <summary>True when a record with this id is stored (or was added earlier in this batch).</summary>
    bool Contains(string recordId);

    /// <summary>Which of these record ids are stored already (one query where the engine allows).</summary>
    IReadOnlySet<string> StoredOf(IReadOnlyCollection<string> recordIds);

    /// <summary>
    /// The time of the newest erasure of this subject (blind index) in this tenant or in every tenant, null when it was
    /// never erased: a record of it made at or before that time is stored already erased.
    /// </summary>
    DateTimeOffset? ErasedAt(byte[] blind, string tenant);

    /// <summary>
    /// <see cref="IAuditStore.EraseSubject"/> inside this transaction, so that the record of the erasure commits with it:
    /// done in a transaction of its own, a writer stopped between the two left a subject erased with no record of it.
    /// </summary>
    ErasureStep EraseSubject(byte[] blind, string? principal, string? tenant, DateTimeOffset erasedAt);

    /// <summary>
    /// <see cref="IAuditStore.PruneBefore"/> inside this transaction, so that the record naming what it pruned commits with it:
    /// in a transaction of its own, a writer killed before its record left records pruned that no record explains, which a
    /// verifier cannot tell from records pruned by hand. SQLite never prunes a writer record that names pruned indices
    /// (<see cref="Verification.PruneCoverage"/>), so every earlier prune stays explained.
    /// </summary>
    PruneStep PruneBefore(DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit);

    /// <summary>The subject row for this blind index and tenant, created (inside this transaction) when absent.</summary>
    StoredSubject GetOrCreateSubject(byte[] blind, string tenant, Func<byte[]> createWrappedKey, DateTimeOffset now);

    /// <summary>
    /// Adds a record at the next index; false (and no index used) when its id was added earlier in this batch. Check
    /// <see cref="StoredOf"/> first: SQLite also answers false for an id stored before, PostgreSQL writes the batch at
    /// commit, where an id stored before fails the whole batch (nothing is stored twice either way). SQLite holds the
    /// records <see cref="StoredOf"/> found absent for a multi-row insert, so either store may throw for a record at a
    /// later call or at <see cref="Commit"/>; the batch is then rolled back as a whole.
    /// </summary>
    bool Add(PendingLeaf leaf);

    /// <summary>Stores the tiles this batch's records change, in the batch's transaction: records and tiles commit together.</summary>
    void WriteTiles(TileChanges changes);

    /// <summary>Makes the batch durable.</summary>
    void Commit();
}
