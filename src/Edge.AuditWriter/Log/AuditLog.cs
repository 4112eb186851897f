using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.Audit.Tiles;
using Edge.Audit.Verification;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Protection;

namespace Edge.AuditWriter.Log;

/// <summary>
/// The log: the store (SQLite, or PostgreSQL shared by a sequencer and standbys), the tree stored in it as C2SP tlog-tiles, and the signed checkpoints. In memory it keeps
/// only the tiles' right edge (one partial tile per level); roots and proofs read the stored tiles, so start-up time
/// and memory do not grow with the log. Appends are serialised; the tree only grows, so every checkpoint it signs is
/// consistent with the previous one.
/// Personal fields are encrypted on append under a per-subject data key (v2 leaves, see <see cref="SubjectProtector"/>);
/// erasure deletes that key, retention prunes old bodies to their leaf hash. Neither touches a leaf hash, so every
/// checkpoint and proof stays valid.
/// </summary>
internal sealed partial class AuditLog : IDisposable
{
    private readonly SemaphoreSlim _appendLock = new(1, 1);
    private readonly ConcurrentQueue<QueuedAppend> _queuedAppends = new();
    private long _groupCommits;
    private long _failedCommits;
    private int _waitingAppends;
    private volatile StoreWriteFailure? _lastWriteFailure;
    private readonly object _treeLock = new();
    private readonly TileHashReader _tiles;
    private TileEdge _edge;
    private readonly IReadOnlyList<NoteSigner> _signers;
    private readonly TimeProvider _time;
    private readonly string _origin;
    private readonly ILogger<AuditLog> _logger;
    private StoredCheckpoint _latest;
    private bool _isSequencer;
    private readonly SubjectKeyCache _subjectKeys;
    private readonly AuditStoreLock? _storeLock;
    private readonly string? _storeFile;

    /// <summary>The CloudEvents instance (source <c>edge://audit-writer</c>) of the records the writer makes itself.</summary>
    public const string WriterInstance = "audit-writer";

    private const int PruneBatch = 5000;

    /// <summary>Records one group commit takes at most (five full shipper batches); the rest wait for the next.</summary>
    internal const int MaxGroupRecords = 10_000;

    /// <summary>A retention record's attribute <c>tenant:&lt;tenant&gt;</c> holds that tenant's override (TimeSpan "c").</summary>
    public const string TenantRetentionAttributePrefix = "tenant:";

    // Leaves per transaction of the one-time tile build: 256 full level-0 tiles (2 MiB) per commit.
    private const int TileBuildBatch = 65_536;

    public AuditLog(WriterOptions options, TimeProvider time, ILogger<AuditLog> logger)
    {
        var opening = time.GetTimestamp();
        _time = time;
        _origin = options.Origin;
        _logger = logger;
        if (options.Postgres is { } postgres)
        {
            var connectionString = ResolveConnectionString(postgres);
            try
            {
                Store = PostgresAuditStore.Open(connectionString);
            }
            catch (Npgsql.NpgsqlException ex)
            {
                // A database down, slow or refusing the login at start was an unhandled exception: the runtime's stack
                // trace and exit 134. The driver's message names the host or the failure, never the password.
                throw new InvalidOperationException($"Writer:Postgres: the PostgreSQL store cannot be opened ({ex.Message}); is the database up and reachable, and does the login hold the grants in docs/audit-postgres.md?", ex);
            }
        }
        else
        {
            _storeFile = Path.GetFullPath(options.StorePath);
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(_storeFile)!);
                _storeLock = AuditStoreLock.Acquire(options.StorePath);
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException and not AuditStoreInUseException)
            {
                throw StoreUnusable(_storeFile, ex.Message);
            }

            try
            {
                Store = AuditStore.Open(options.StorePath);
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex)
            {
                // A directory, a file that is not SQLite, or a folder the writer may not write to: one line naming the
                // setting and exit 1 (it was a stack trace and SIGABRT). The file is left as it is.
                _storeLock.Dispose();
                throw StoreUnusable(_storeFile, ex.Message);
            }
            catch
            {
                _storeLock.Dispose();
                throw;
            }
        }

        try
        {
            _signers = WriterKeys.Load(options, logger);
            Keyring = SubjectKeyring.Load(options, logger);
            _subjectKeys = new SubjectKeyCache(options.SubjectKeyCacheSize >= 0
                ? options.SubjectKeyCacheSize
                : throw new InvalidOperationException("Writer:SubjectKeyCacheSize must be 0 (off) or more."));
            _edge = CatchUpTiles(Store, time, logger);
            // An erasure answered 503 erasure_pending (a reader held an old snapshot), or one cut off by a stop before its
            // truncation, left the deleted keys in the WAL's old frames, which SQLite reuses but never shortens, and a
            // restart kept them there until someone repeated the request. Nothing else reads the store before it listens.
            if (Store is AuditStore && !Store.TruncateWal())
            {
                Log.WalNotTruncatedAtStart(logger);
            }

            _tiles = new TileHashReader(ReadTile);
            var latest = CatchUp() ?? Store.LatestCheckpoint();
            if (latest is not null)
            {
                EnsureMatches(latest);
            }

            // A shared store starts as a standby: the lease decides who sequences (WriterLeaseService). A standby keeps the
            // stored checkpoint, or the empty tree's (signed, never stored: every writer signs the same one).
            _isSequencer = Store is not PostgresAuditStore;
            var empty = MerkleHasher.EmptyRoot.ToArray();
            _latest = latest ?? (_isSequencer ? SignAndStore(0, empty) : Sign(0, empty));
            if (_isSequencer)
            {
                _sequencing.TrySetResult();
            }
        }
        catch
        {
            // A refused start (a store that does not match its checkpoint, a missing key) frees the store for the next try.
            Store.Dispose();
            _storeLock?.Dispose();
            throw;
        }

        Log.Opened(logger, Store.Location, Size, _latest.Size, (long)time.GetElapsedTime(opening).TotalMilliseconds);
    }

    /// <summary><c>Writer:Postgres</c> is a secret reference, or an inline connection string that holds no password.</summary>
    internal static string ResolveConnectionString(string configured)
    {
        if (Edge.Configuration.SecretReference.IsReference(configured))
        {
            return Edge.Configuration.SecretReference.TryResolve(configured, out var value, out var error)
                ? value
                : throw new InvalidOperationException($"Writer:Postgres: {error}");
        }

        var builder = new Npgsql.NpgsqlConnectionStringBuilder(configured);
        return string.IsNullOrEmpty(builder.Password)
            ? configured
            : throw new InvalidOperationException("Writer:Postgres holds a password inline; give it as env:NAME or file:/path.");
    }

    public IAuditStore Store { get; }

    /// <summary>True while this writer appends and signs (always with SQLite; with PostgreSQL while it holds the lease).</summary>
    public bool IsSequencer => Volatile.Read(ref _isSequencer);

    /// <summary>Completed while this writer sequences; replaced by a pending one when it steps down.</summary>
    private TaskCompletionSource _sequencing = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once this writer sequences (at once for SQLite, and for a PostgreSQL writer holding the lease).</summary>
    public Task WhenSequencerAsync(CancellationToken cancellationToken) =>
        IsSequencer ? Task.CompletedTask : Volatile.Read(ref _sequencing).Task.WaitAsync(cancellationToken);

    public SubjectKeyring Keyring { get; }

    public IReadOnlyList<NoteVerifier> Verifiers => _signers.Select(s => s.Verifier).ToList();

    public StoredCheckpoint LatestCheckpoint => Volatile.Read(ref _latest);

    public long Size
    {
        get
        {
            lock (_treeLock)
            {
                return _edge.Size;
            }
        }
    }

    /// <summary>
    /// A tile as of now: the level's partial tile from the edge (no store read), or the stored tile (full, or a partial
    /// the edge has moved past). Null when the tile does not exist yet.
    /// </summary>
    public Tile? ReadTile(int level, long index)
    {
        lock (_treeLock)
        {
            if (_edge.Partial(level, index) is { } partial)
            {
                return partial;
            }
        }

        return Store.ReadTile(level, index);
    }

    /// <summary>
    /// Brings the stored tiles up to the stored records and returns their right edge. A store written before tiles (or by
    /// an older writer) gets the missing ones built here, once: leaf hashes are streamed from where the tiles stop, and
    /// tiles are committed every <see cref="TileBuildBatch"/> leaves, so memory stays flat and an interrupted build resumes.
    /// </summary>
    private static InvalidOperationException StoreUnusable(string path, string reason) =>
        new($"Writer:StorePath: '{path}' cannot be opened as an audit store ({reason}); give the path of the writer's store, or of a new file in a folder the writer can write.");

    private static TileEdge CatchUpTiles(IAuditStore store, TimeProvider time, ILogger logger)
    {
        var tiled = store.TiledSize();
        var records = store.Count();
        var edge = TileEdge.Restore(tiled, store.ReadTile);
        if (tiled == records)
        {
            return edge;
        }

        if (tiled > records)
        {
            throw new InvalidOperationException(
                $"The store's tiles cover {tiled} leaves but it holds {records} records; run 'edge audit verify' before restarting the writer.");
        }

        var started = time.GetTimestamp();
        Log.BuildingTiles(logger, records - tiled, tiled);
        foreach (var hash in store.ReadLeafHashes(tiled))
        {
            edge.AppendLeafHash(hash);
            if (edge.Size % TileBuildBatch == 0)
            {
                store.WriteTiles(edge.TakeChanges());
            }
        }

        store.WriteTiles(edge.TakeChanges());
        // On a shared store the sequencer may have appended (with its tiles) while this writer built: more is fine.
        if (edge.Size < records)
        {
            throw new InvalidOperationException($"The store holds {records} records but {edge.Size} leaf hashes in index order; run 'edge audit verify'.");
        }

        Log.TilesBuilt(logger, records - tiled, (long)time.GetElapsedTime(started).TotalMilliseconds);
        return edge;
    }

    /// <summary>
    /// Durably appends the new records (duplicates by id are ignored); returns how many were new. Batches that arrive
    /// while another commits are committed together in one transaction by whichever caller takes the lock next (group
    /// commit): each commit costs the store about the same whatever its size (the tail page of every distinct tenant,
    /// route and decision in the indexes, the tiles, one fsync), so several edges shipping small batches share it.
    /// Each caller still returns only once its own records are durable. A caller cancelled while its batch waits drops
    /// the batch (nothing of it is stored, and it is not held for the next commit); once a commit took it, the commit
    /// completes and the caller gets its result. The sender retries a batch it got no answer for, and ingest is
    /// idempotent by record id.
    /// </summary>
    public async Task<int> AppendAsync(IReadOnlyList<PendingLeaf> leaves, CancellationToken cancellationToken)
    {
        var queued = new QueuedAppend(leaves, ProtectAhead(leaves));
        Interlocked.Increment(ref _waitingAppends);
        _queuedAppends.Enqueue(queued);
        try
        {
            await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // An edge whose request timed out sends the batch again: a wait kept queued here was one more copy of the
            // batch held (and committed for nobody) per timeout, for as long as the store stalled.
            if (queued.TryAbandon())
            {
                Interlocked.Decrement(ref _waitingAppends);
                throw;
            }

            // A commit run by another caller took it already: its outcome is this caller's.
            return await queued.Completion.Task.ConfigureAwait(false);
        }

        try
        {
            // Queued before this caller took the lock, so draining in order reaches it.
            while (!queued.Completion.Task.IsCompleted)
            {
                CommitQueuedAppends();
            }
        }
        finally
        {
            _appendLock.Release();
        }

        return await queued.Completion.Task.ConfigureAwait(false);
    }

    private void CommitQueuedAppends()
    {
        var group = new List<QueuedAppend>();
        var records = 0;
        while (records < MaxGroupRecords && _queuedAppends.TryDequeue(out var next))
        {
            if (!next.TryTake())
            {
                continue;
            }

            Interlocked.Decrement(ref _waitingAppends);
            group.Add(next);
            records += next.Leaves.Count;
        }

        if (group.Count > 0)
        {
            CommitGroup(group);
        }
    }

    private void CommitGroup(List<QueuedAppend> group)
    {
        try
        {
            EnsureSequencer();
            EnsureStoreInPlace();
            var counts = AppendLocked(group);
            Interlocked.Increment(ref _groupCommits);
            _lastWriteFailure = null;
            for (var i = 0; i < group.Count; i++)
            {
                group[i].Completion.TrySetResult(counts[i]);
            }
        }
#pragma warning disable CA1031 // Handed to the callers whose batches failed; none of the group is stored.
        catch (Exception exception) when (group.Count > 1 && !HeldElsewhere(exception))
        {
            Interlocked.Increment(ref _failedCommits);
            // The group was rolled back as a whole. Each batch alone, so one that cannot be stored fails only its own
            // request, not the batches that happened to arrive with it.
            foreach (var queued in group)
            {
                CommitGroup([queued]);
            }
        }
        catch (Exception exception)
        {
            // One batch alone, or a lock another process holds: no batch caused that, and each retry alone would wait one
            // more busy timeout (three edges answered after 10, 15 and 20 s, past their request timeout).
            Interlocked.Increment(ref _failedCommits);
            if (exception is DbException)
            {
                _lastWriteFailure = new StoreWriteFailure(_time.GetUtcNow(), exception.Message);
            }

            foreach (var queued in group)
            {
                queued.Completion.TrySetException(exception);
            }
        }
#pragma warning restore CA1031
    }

    /// <summary>SQLite's SQLITE_BUSY or SQLITE_LOCKED: another connection or process holds the store's lock.</summary>
    private static bool HeldElsewhere(Exception exception) =>
        exception is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 5 or 6 };

    /// <summary>
    /// Set when the store refused the last append (a full disk, an I/O error, a lock held too long by another process),
    /// cleared by the next append it takes: a writer that acknowledges nothing is not ready, though its file is in place.
    /// </summary>
    public StoreWriteFailure? LastWriteFailure => _lastWriteFailure;

    /// <summary>Append transactions for ingested batches that failed (a group's and each retry of one of its batches).</summary>
    internal long FailedCommits => Interlocked.Read(ref _failedCommits);

    /// <summary>Append transactions committed for ingested batches (several batches may share one).</summary>
    internal long GroupCommits => Interlocked.Read(ref _groupCommits);

    /// <summary>Batches waiting for the append lock (not those whose callers gave up).</summary>
    internal int QueuedAppends => Volatile.Read(ref _waitingAppends);

    /// <summary>Holds the append lock until disposed, so tests can queue batches behind a commit.</summary>
    internal async Task<IDisposable> HoldAppendsAsync()
    {
        await _appendLock.WaitAsync().ConfigureAwait(false);
        return new AppendHold(_appendLock);
    }

    private sealed class AppendHold(SemaphoreSlim appendLock) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                appendLock.Release();
            }
        }
    }

    private sealed class QueuedAppend(IReadOnlyList<PendingLeaf> leaves, ProtectedAhead? protectedAhead = null)
    {
        private const int Waiting = 0;
        private const int Taken = 1;
        private const int Abandoned = 2;
        private int _state;

        public IReadOnlyList<PendingLeaf> Leaves { get; private set; } = leaves;

        public ProtectedAhead? ProtectedAhead { get; private set; } = protectedAhead;

        public TaskCompletionSource<int> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>A commit takes the batch; false when its caller gave up first.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Waiting) == Waiting;

        /// <summary>The caller gives up; false when a commit took the batch first. Lets the records go at once.</summary>
        public bool TryAbandon()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Waiting) != Waiting)
            {
                return false;
            }

            // The queue keeps this entry until the next commit passes it; the records need not wait that long.
            Leaves = [];
            ProtectedAhead = null;
            return true;
        }
    }

    /// <summary>
    /// Erases a principal: deletes its data keys (every tenant, or only <paramref name="tenant"/>), prunes its v1
    /// plaintext records, truncates the WAL so no copy survives in the store's files, and appends a
    /// <see cref="AuditEventTypes.SubjectErased"/> record naming neither the principal nor its fields.
    /// </summary>
    public Task<ErasureResult> EraseAsync(string principal, string? tenant, string requestedBy, CancellationToken cancellationToken) =>
        EraseAsync(principal, byClientIp: false, tenant, requestedBy, cancellationToken);

    /// <summary>
    /// Erases a subject: a principal, or with <paramref name="byClientIp"/> a client address, whose records without a
    /// principal (anonymous requests, refusals before authentication) are keyed by it. Records with a principal carry
    /// their client IP under the principal's key and are reached by erasing the principal.
    /// </summary>
    public async Task<ErasureResult> EraseAsync(string subject, bool byClientIp, string? tenant, string requestedBy, CancellationToken cancellationToken)
    {
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureSequencer();
            // In a store file that is no longer at StorePath the deleted keys and the tombstone would be gone at the next
            // start (a file restored from a backup), after the caller was told the subject is erased.
            EnsureStoreInPlace();
            var records = 0L;
            // The tombstone's time: records of this subject made (by their own time, the edge's clock) at or before it
            // that arrive later are stored already erased.
            var erasedAt = _time.GetUtcNow();
            var blind = byClientIp ? Keyring.BlindClientIp(subject) : Keyring.BlindPrincipal(subject);
            try
            {
                // The keys go and the record of it is appended in one transaction: in two, a writer stopped in between (the
                // WAL truncation below waits up to 10 s for a long export) left the subject erased with no record of who
                // erased it or how many records it took, and a repeated request then recorded "records": 0.
                AppendLocked([], batch =>
                {
                    var step = batch.EraseSubject(blind, byClientIp ? null : subject, tenant, erasedAt);
                    records = step.Records;
                    var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
                    {
                        ["records"] = records.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["scope"] = tenant is null ? "all_tenants" : "tenant",
                        ["subjectKind"] = byClientIp ? "client_ip" : "principal",
                        [PruneCoverage.PrunedAttribute] = step.PrunedIndices.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    };
                    // v1 records it pruned (SQLite) and subjects whose keys it deleted (PostgreSQL, where records keep
                    // the subject id) are named here, so a verifier can tell them from deletions by hand.
                    if (step.PrunedIndices.Count > 0)
                    {
                        attributes[PruneCoverage.IndicesAttribute] = PruneCoverage.Format(step.PrunedIndices);
                    }

                    if (step.DeletedSubjects.Count > 0)
                    {
                        attributes[PruneCoverage.ErasedSubjectsAttribute] = PruneCoverage.Format(step.DeletedSubjects);
                    }

                    return WriterLeaf(AuditEventTypes.SubjectErased, tenant, "erased", "erasure", "erasure_request", requestedBy, attributes);
                });
            }
            finally
            {
                // Even a failed erasure may have deleted keys; the next batch resolves its subjects from the store.
                _subjectKeys.Clear();
            }

            var truncated = await TruncateWalAsync(cancellationToken).ConfigureAwait(false);
            Log.Erased(_logger, records, tenant ?? "*");
            return new ErasureResult(records, truncated);
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>
    /// Records an erasure the writer refused to a signed-in caller (<paramref name="reason"/> is the answer's code), before
    /// the answer goes out: an attempt to erase without the right is what a compliance review looks for. The caller is the
    /// subject; the principal or address it named is never written.
    /// </summary>
    public async Task RecordErasureRefusedAsync(string requestedBy, string? tenant, string reason, int status, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureSequencer();
            EnsureStoreInPlace();
            AppendWriterRecord(AuditEventTypes.ErasureRefused, tenant, "refused", "erasure", reason, requestedBy, attributes, status);
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>
    /// One retention run: prunes records past their tenant's retention to their leaf hash in batches (so ingest is not held
    /// up), each batch committing with a <see cref="AuditEventTypes.RetentionApplied"/> record (decision <c>pruned</c>)
    /// that names what it pruned, so a run cut off at any point leaves no prune unexplained; then deletes the data keys no
    /// remaining record uses, truncates the WAL and appends the run's closing record (decision <c>applied</c>).
    /// </summary>
    public async Task<RetentionResult> ApplyRetentionAsync(RetentionOptions retention, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(retention);
        EnsureSequencer();
        var now = _time.GetUtcNow();
        var policy = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["default"] = retention.Default?.ToString("c", System.Globalization.CultureInfo.InvariantCulture) ?? "forever",
            ["tenantOverrides"] = retention.Tenants.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        // The span each override applied, not only how many there were: an override shortened to prune a tenant's
        // records early left the same record as before, so the trail could not show which policy took them.
        foreach (var (tenant, span) in retention.Tenants)
        {
            policy[TenantRetentionAttributePrefix + tenant] = span.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        }

        var pruned = 0L;
        var batches = 0;
        foreach (var (tenant, span) in retention.Tenants)
        {
            var (records, written) = await PruneAsync(Cutoff(now, span), tenant, [], policy, cancellationToken).ConfigureAwait(false);
            pruned += records;
            batches += written;
        }

        if (retention.Default is { } keep)
        {
            var (records, written) = await PruneAsync(Cutoff(now, keep), null, retention.Tenants.Keys.ToList(), policy, cancellationToken).ConfigureAwait(false);
            pruned += records;
            batches += written;
        }

        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureSequencer();
            int shredded;
            try
            {
                shredded = Store.DeleteUnusedSubjects();
            }
            finally
            {
                _subjectKeys.Clear();
            }

            var truncated = await TruncateWalAsync(cancellationToken).ConfigureAwait(false);
            var attributes = new Dictionary<string, string>(policy, StringComparer.Ordinal)
            {
                ["pruned"] = pruned.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["subjectsShredded"] = shredded.ToString(System.Globalization.CultureInfo.InvariantCulture),
                [PruneCoverage.BatchesAttribute] = batches.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            AppendWriterRecord(AuditEventTypes.RetentionApplied, null, "applied", "retention", null, null, attributes);
            return new RetentionResult(pruned, shredded, truncated);
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>The data key of a subject, or null once it was erased or shredded.</summary>
    public byte[]? DataKey(long subjectId)
    {
        var stored = Store.SubjectKey(subjectId);
        if (stored is null)
        {
            return null;
        }

        try
        {
            return Keyring.UnwrapDataKey(stored.WrappedKey, stored.Blind, stored.Tenant);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>
    /// A span reaching back before year 1 (a "keep forever" written as 3650000.00:00:00) threw on the subtraction, so every
    /// run failed; nothing is that old, so it prunes nothing.
    /// </summary>
    private static DateTimeOffset Cutoff(DateTimeOffset now, TimeSpan keep) =>
        keep >= now - DateTimeOffset.MinValue ? DateTimeOffset.MinValue : now - keep;

    /// <summary>
    /// Prunes in batches, each in one append transaction with the record that names what it pruned (SQLite: the record
    /// indices; PostgreSQL: the ids of the subjects whose keys it shredded). Returns the records pruned and the batch records written.
    /// </summary>
    private async Task<(long Records, int Batches)> PruneAsync(
        DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excluded, IReadOnlyDictionary<string, string> policy, CancellationToken cancellationToken)
    {
        var total = 0L;
        var batches = 0;
        var postgres = Store is PostgresAuditStore;
        while (true)
        {
            var pruned = 0;
            var written = false;
            await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                EnsureSequencer();
                AppendLocked([], batch =>
                {
                    var step = batch.PruneBefore(cutoff, tenant, excluded, PruneBatch);
                    pruned = step.Records;
                    if (step.Deleted.Count == 0)
                    {
                        return null;
                    }

                    written = true;

                    var attributes = new Dictionary<string, string>(policy, StringComparer.Ordinal)
                    {
                        ["pruned"] = step.Records.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["cutoff"] = cutoff.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                        ["scope"] = tenant is null ? "default" : "tenant",
                    };
                    attributes[postgres ? PruneCoverage.ShreddedSubjectsAttribute : PruneCoverage.IndicesAttribute] = PruneCoverage.Format(step.Deleted);
                    return WriterLeaf(AuditEventTypes.RetentionApplied, tenant, "pruned", "retention", null, null, attributes);
                });
            }
            finally
            {
                // PostgreSQL shreds the keys of subjects with nothing left to protect here, not in DeleteUnusedSubjects.
                _subjectKeys.Clear();
                _appendLock.Release();
            }

            total += pruned;
            if (written)
            {
                batches++;
            }

            if (pruned < PruneBatch)
            {
                return (total, batches);
            }
        }
    }

    /// <summary>
    /// checkpoint(TRUNCATE) waits for readers through the connection's busy timeout (5 s) and fails if one still holds an
    /// older snapshot (e.g. a long export); one more attempt after a short pause, then the caller reports it.
    /// </summary>
    private async Task<bool> TruncateWalAsync(CancellationToken cancellationToken)
    {
        if (Store.TruncateWal())
        {
            return true;
        }

        await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
        if (Store.TruncateWal())
        {
            return true;
        }

        Log.WalNotTruncated(_logger);
        return false;
    }

    private void AppendWriterRecord(
        string type, string? tenant, string decision, string step, string? reason, string? principal, IReadOnlyDictionary<string, string> attributes, int? status = null) =>
        AppendLocked([new QueuedAppend([WriterLeaf(type, tenant, decision, step, reason, principal, attributes, status)])]);

    private PendingLeaf WriterLeaf(
        string type, string? tenant, string decision, string step, string? reason, string? principal, IReadOnlyDictionary<string, string> attributes, int? status = null)
    {
        var record = new AuditRecord
        {
            Id = Guid.CreateVersion7(_time.GetUtcNow()).ToString(),
            Type = type,
            Time = _time.GetUtcNow(),
            Instance = WriterInstance,
            Tenant = tenant,
            Decision = decision,
            Step = step,
            Reason = reason,
            Status = status,
            Attributes = attributes,
            // The caller who asked is the subject of this record, protected like any other.
            Subject = new AuditSubject { Principal = principal },
        };
        var summary = new LeafSummary(record.Id, record.Time, tenant, principal, null, decision, reason);
        return new PendingLeaf(AuditRecordSerializer.Serialize(record), summary);
    }

    /// <summary>
    /// One batch, one SQLite transaction: known ids are skipped before protecting (so a replay of an erased subject's
    /// record does not create a new key for it), new subjects get their data key inside the same transaction, and the
    /// tree grows only after the commit. Any failure rolls the whole batch back; the sender retries it and, ingest being
    /// idempotent by record id, nothing is stored twice.
    /// </summary>
    /// <param name="batches">The queued appends.</param>
    /// <param name="first">Work done in the batch's transaction before its records (an erasure), whose own record it returns.</param>
    /// <returns>For each of <paramref name="batches"/>, how many of its records were new.</returns>
    private int[] AppendLocked(List<QueuedAppend> batches, Func<IAuditAppendBatch, PendingLeaf?>? first = null)
    {
        TileEdge edge;
        lock (_treeLock)
        {
            edge = _edge;
        }

        var next = edge.Size;
        var grown = edge.Clone();
        var counts = new int[batches.Count];

        var keys = new Dictionary<SubjectCacheKey, BatchSubject>();
        var generation = _subjectKeys.Generation;
        IReadOnlyList<byte[]> appended;
        var erased = new ErasedOnArrival();
        try
        {
            using (var batch = BeginFencedAppend(next))
            {
                if (first?.Invoke(batch) is { } own)
                {
                    batch.Add(Protect(own, batch, keys, erased));
                }

                var seen = new HashSet<string>(StringComparer.Ordinal);
                var ids = new List<string>();
                foreach (var queued in batches)
                {
                    foreach (var leaf in queued.Leaves)
                    {
                        ids.Add(leaf.Summary.Id);
                    }
                }

                var stored = batch.StoredOf(ids);
                for (var i = 0; i < batches.Count; i++)
                {
                    var leaves = batches[i].Leaves;
                    // Sealed before the lock with keys of the cache as it was then: usable only if no erasure, retention
                    // or lease change cleared it since (each clears under this lock, so none can come between here and
                    // the commit).
                    var ahead = batches[i].ProtectedAhead is { } protectedAhead && protectedAhead.Generation == generation ? protectedAhead.Leaves : null;
                    for (var j = 0; j < leaves.Count; j++)
                    {
                        var leaf = leaves[j];
                        if (!seen.Add(leaf.Summary.Id) || stored.Contains(leaf.Summary.Id))
                        {
                            continue;
                        }

                        batch.Add(ahead?[j] ?? Protect(leaf, batch, keys, erased));
                        counts[i]++;
                    }
                }

                appended = batch.Appended;
                foreach (var hash in appended)
                {
                    grown.AppendLeafHash(hash);
                }

                batch.WriteTiles(grown.TakeChanges());
                batch.Commit();
            }

            // Only what a committed batch read or created: a rolled-back batch's new subject has no row.
            foreach (var (key, subject) in keys)
            {
                if (subject.KeyToCache is { } dataKey)
                {
                    _subjectKeys.Add(key, subject.Id, dataKey, subject.ErasedAt, generation);
                }
            }
        }
        finally
        {
            foreach (var subject in keys.Values)
            {
                subject.Dispose();
            }

            erased.Dispose();
        }

        if (erased.Records > 0)
        {
            Log.ErasedOnArrival(_logger, erased.Records);
        }

        lock (_treeLock)
        {
            if (grown.Size >= _edge.Size)
            {
                _edge = grown;
            }
        }

        return counts;
    }

    /// <summary>
    /// Seals, on the caller's thread and before it waits for the append lock, the leaves whose subject needs no store
    /// access: no subject at all, or one whose key the cache holds and whose newest erasure (if any) the record
    /// postdates; their leaf hashes too. Appends are serialised, so work done here runs beside another batch's commit
    /// instead of inside it. The rest (new subjects, records an erasure overtook) are protected under the lock as
    /// before. Null when nothing was sealed ahead.
    /// </summary>
    private ProtectedAhead? ProtectAhead(IReadOnlyList<PendingLeaf> leaves)
    {
        // Read before the cache: a clear after this point changes it, and the commit then seals these leaves again.
        var generation = _subjectKeys.Generation;
        PendingLeaf?[]? sealedLeaves = null;
        Dictionary<SubjectCacheKey, CachedSubject>? subjects = null;
        Span<byte> cached = stackalloc byte[SubjectKeyring.DataKeyBytes];
        try
        {
            for (var i = 0; i < leaves.Count; i++)
            {
                var leaf = leaves[i];
                if (leaf.Layout is not { } layout)
                {
                    continue;
                }

                AesGcm? dataKey = null;
                long? subjectId = null;
                PlainSubject? subject = null;
                if (SubjectKeyOf(leaf, layout) is { } cacheKey)
                {
                    subjects ??= [];
                    if (!subjects.TryGetValue(cacheKey, out var known))
                    {
                        known = _subjectKeys.TryGet(cacheKey, cached, out var id, out var erasedAt)
                            ? new CachedSubject(SubjectKeyring.CreateCipher(cached), id, erasedAt)
                            : new CachedSubject(null, 0, null);
                        CryptographicOperations.ZeroMemory(cached);
                        subjects[cacheKey] = known;
                    }

                    if (known.Cipher is null || MadeBeforeErasure(leaf, known.ErasedAt))
                    {
                        continue;
                    }

                    dataKey = known.Cipher;
                    subjectId = known.Id;
                    subject = new PlainSubject(leaf.Summary.Principal, layout.ClientIp, layout.SubjectDetails);
                }

                var bytes = SubjectProtector.Protect(leaf.Bytes, layout, leaf.Summary.Id, subject, dataKey);
                var protectedLeaf = new PendingLeaf(bytes, leaf.Summary with { Principal = null }) { SubjectId = subjectId };
                _ = protectedLeaf.Hash;
                (sealedLeaves ??= new PendingLeaf?[leaves.Count])[i] = protectedLeaf;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(cached);
            if (subjects is not null)
            {
                foreach (var known in subjects.Values)
                {
                    known.Cipher?.Dispose();
                }
            }
        }

        return sealedLeaves is null ? null : new ProtectedAhead(sealedLeaves, generation);
    }

    /// <summary>The leaf's subject: its principal, else its client IP, in its tenant; null when it has neither.</summary>
    private static SubjectCacheKey? SubjectKeyOf(PendingLeaf leaf, in LeafLayout layout)
    {
        var tenant = leaf.Summary.Tenant ?? "";
        return leaf.Summary.Principal is { } principal ? new SubjectCacheKey(true, principal, tenant)
            : layout.ClientIp is { } clientIp ? new SubjectCacheKey(false, clientIp, tenant)
            : null;
    }

    /// <summary>Made (by the edge's clock) at or before its subject's newest erasure: it must not get the subject's key.</summary>
    private static bool MadeBeforeErasure(PendingLeaf leaf, DateTimeOffset? erasedAt) =>
        erasedAt is { } erased && leaf.Summary.Time.ToUnixTimeMilliseconds() <= erased.ToUnixTimeMilliseconds();

    /// <summary>Leaves sealed ahead of the lock (null where not), with the cache generation their keys came from.</summary>
    private sealed record ProtectedAhead(PendingLeaf?[] Leaves, long Generation);

    private readonly record struct CachedSubject(AesGcm? Cipher, long Id, DateTimeOffset? ErasedAt);

    /// <param name="keys">Subjects already resolved in this batch: a batch is mostly a few subjects, so each costs one
    /// blind-index HMAC, one tombstone lookup, one subject lookup and one key unwrap per batch, not per record.</param>
    /// <param name="erased">The batch's throwaway key for records of an erased subject made before its erasure.</param>
    private PendingLeaf Protect(PendingLeaf leaf, IAuditAppendBatch batch, Dictionary<SubjectCacheKey, BatchSubject> keys, ErasedOnArrival erased)
    {
        // Ingest found the layout with the parse that validated the leaf; the writer's own records are parsed here.
        LeafLayout layout;
        if (leaf.Layout is { } parsed)
        {
            layout = parsed;
        }
        else
        {
            layout = LeafLayout.Of(leaf.Bytes) ?? throw new JsonException("A leaf the writer protects itself is not one JSON object.");
        }

        PlainSubject? subject = null;
        AesGcm? dataKey = null;
        long? subjectId = null;
        if (SubjectKeyOf(leaf, layout) is { } cacheKey)
        {
            subject = new PlainSubject(leaf.Summary.Principal, layout.ClientIp, layout.SubjectDetails);
            if (!keys.TryGetValue(cacheKey, out var resolved))
            {
                resolved = ResolveSubject(cacheKey, batch);
                keys[cacheKey] = resolved;
            }

            if (MadeBeforeErasure(leaf, resolved.ErasedAt))
            {
                // Made before its subject's erasure, delivered after it (an edge's spool backlog): stored as erasure leaves a
                // record, sealed under a key that is never stored, with no subject link. Never the subject's current key,
                // which belongs to its records made after the erasure.
                dataKey = erased.Cipher;
                erased.Records++;
            }
            else
            {
                EnsureDataKey(resolved, cacheKey, batch);
                dataKey = resolved.DataKey;
                subjectId = resolved.Id;
            }
        }

        var bytes = SubjectProtector.Protect(leaf.Bytes, layout, leaf.Summary.Id, subject, dataKey);
        return new PendingLeaf(bytes, leaf.Summary with { Principal = null }) { SubjectId = subjectId };
    }

    /// <summary>
    /// A subject for this batch: from the cross-batch cache (id, key and tombstone), or else its blind index and newest
    /// tombstone; the key is then read or created only when one of its records needs it (<see cref="EnsureDataKey"/>), so
    /// a batch holding only records older than the subject's erasure creates no key for it.
    /// </summary>
    private BatchSubject ResolveSubject(SubjectCacheKey key, IAuditAppendBatch batch)
    {
        Span<byte> cached = stackalloc byte[SubjectKeyring.DataKeyBytes];
        try
        {
            if (_subjectKeys.TryGet(key, cached, out var cachedId, out var cachedErasedAt))
            {
                return new BatchSubject(null, cachedErasedAt) { Id = cachedId, DataKey = SubjectKeyring.CreateCipher(cached) };
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(cached);
        }

        var blind = key.IsPrincipal ? Keyring.BlindPrincipal(key.Value) : Keyring.BlindClientIp(key.Value);
        return new BatchSubject(blind, batch.ErasedAt(blind, key.Tenant));
    }

    /// <summary>Reads (or creates, inside the batch's transaction) the subject's row and unwraps its data key, once per batch.</summary>
    private void EnsureDataKey(BatchSubject subject, SubjectCacheKey key, IAuditAppendBatch batch)
    {
        if (subject.DataKey is not null)
        {
            return;
        }

        var blind = subject.Blind!;
        var stored = batch.GetOrCreateSubject(blind, key.Tenant, () => Keyring.CreateWrappedDataKey(blind, key.Tenant), _time.GetUtcNow());
        var dataKey = Keyring.UnwrapDataKey(stored.WrappedKey, blind, key.Tenant);
        try
        {
            var pinned = GC.AllocateArray<byte>(dataKey.Length, pinned: true);
            dataKey.CopyTo(pinned, 0);
            subject.Id = stored.Id;
            subject.DataKey = SubjectKeyring.CreateCipher(dataKey);
            subject.KeyToCache = pinned;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>
    /// One subject of one batch: <see cref="Blind"/> is null when it came from the cache (its key is then set);
    /// <see cref="KeyToCache"/> is the key read from the store, zeroed with the batch.
    /// </summary>
    private sealed class BatchSubject(byte[]? blind, DateTimeOffset? erasedAt) : IDisposable
    {
        public byte[]? Blind { get; } = blind;
        public DateTimeOffset? ErasedAt { get; } = erasedAt;
        public long Id { get; set; }
        public AesGcm? DataKey { get; set; }
        public byte[]? KeyToCache { get; set; }

        public void Dispose()
        {
            DataKey?.Dispose();
            if (KeyToCache is not null)
            {
                CryptographicOperations.ZeroMemory(KeyToCache);
            }
        }
    }

    /// <summary>
    /// A batch's records made before their subject's erasure: sealed under one random key created when the first needs
    /// it and never stored or logged, so they read as erased from the moment they are stored.
    /// </summary>
    private sealed class ErasedOnArrival : IDisposable
    {
        private AesGcm? _cipher;

        public int Records { get; set; }

        public AesGcm Cipher
        {
            get
            {
                if (_cipher is null)
                {
                    Span<byte> key = stackalloc byte[SubjectKeyring.DataKeyBytes];
                    RandomNumberGenerator.Fill(key);
                    _cipher = SubjectKeyring.CreateCipher(key);
                    CryptographicOperations.ZeroMemory(key);
                }

                return _cipher;
            }
        }

        public void Dispose() => _cipher?.Dispose();
    }

    /// <summary>How many subjects' data keys the cross-batch cache holds now.</summary>
    internal int CachedSubjectKeys => _subjectKeys.Count;

    /// <summary>Signs and stores a checkpoint when the tree grew since the last one.</summary>
    public async Task<bool> CheckpointAsync(CancellationToken cancellationToken)
    {
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!IsSequencer)
            {
                return false;
            }

            long size;
            byte[] root;
            lock (_treeLock)
            {
                size = _edge.Size;
                if (size <= _latest.Size)
                {
                    return false;
                }

                root = _edge.Root();
            }

            Volatile.Write(ref _latest, SignAndStore(size, root));
            return true;
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>RFC 9162 PATH(index, D[0:size]) from the stored tiles; size must not exceed <see cref="Size"/>.</summary>
    public IReadOnlyList<byte[]> InclusionProof(long index, long size)
    {
        CheckSize(size);
        return _tiles.InclusionProof(index, size);
    }

    /// <summary>RFC 9162 PROOF(from, D[0:to]) from the stored tiles; to must not exceed <see cref="Size"/>.</summary>
    public IReadOnlyList<byte[]> ConsistencyProof(long from, long to)
    {
        CheckSize(to);
        return _tiles.ConsistencyProof(from, to);
    }

    private void CheckSize(long size)
    {
        var current = Size;
        if (size < 0 || size > current)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The tree has {current} leaves.");
        }
    }

    private StoredCheckpoint SignAndStore(long size, byte[] root)
    {
        var checkpoint = Sign(size, root);
        Store.AddCheckpoint(size, root, checkpoint.Note, _time.GetUtcNow());
        return checkpoint;
    }

    private StoredCheckpoint Sign(long size, byte[] root) => new(size, root, SignedNote.Sign(new Checkpoint(_origin, size, root), _signers));

    /// <summary>
    /// False once the SQLite file this writer opened is no longer at <c>Writer:StorePath</c> (deleted or moved away while
    /// the writer runs). SQLite keeps writing to the open, unlinked file, so every batch acknowledged after that would be
    /// gone at the next start while the edges had already deleted it from their spools. Always true with PostgreSQL.
    /// </summary>
    public bool StoreInPlace => _storeFile is null || File.Exists(_storeFile);

    private void EnsureStoreInPlace()
    {
        if (!StoreInPlace)
        {
            throw new StoreFileGoneException(_storeFile!);
        }
    }

    private void EnsureSequencer()
    {
        if (!IsSequencer)
        {
            throw new WriterStandbyException();
        }
    }

    /// <summary>A fenced append (another writer sequences, or this one's view is stale) makes this writer a standby at once.</summary>
    private IAuditAppendBatch BeginFencedAppend(long next)
    {
        try
        {
            return Store.BeginAppend(next);
        }
        catch (AuditStoreFencedException exception)
        {
            StepDown(exception.Message);
            throw new WriterStandbyException();
        }
    }

    /// <summary>
    /// Moves the right edge over the leaf hashes appended since its size (by the sequencer, when this writer stands by;
    /// their tiles were stored in the same transaction, so nothing is written here) and adopts the newest stored checkpoint
    /// the edge covers. The stored log is append-only, so the prefix already read never changes.
    /// Returns that checkpoint, or null when none is stored yet.
    /// </summary>
    public StoredCheckpoint? CatchUp()
    {
        // Read the checkpoint first: every leaf it covers was committed before it, so the hashes read next include them.
        var latest = Store.LatestCheckpoint();
        TileEdge current;
        lock (_treeLock)
        {
            current = _edge;
        }

        var grown = current.Clone();
        foreach (var hash in Store.ReadLeafHashes(current.Size))
        {
            grown.AppendLeafHash(hash);
        }

        if (grown.Size != current.Size)
        {
            // The sequencer stored these tiles with the records; the edge only needs the new partials.
            grown.TakeChanges();
            lock (_treeLock)
            {
                // A standby's catch-up can race the last append of a sequencer that just stepped down: both edges come from
                // the same append-only log, so the longer one is the newer.
                if (grown.Size > _edge.Size)
                {
                    _edge = grown;
                }
            }
        }

        if (latest is not null && !IsSequencer && latest.Size > (_latest?.Size ?? -1))
        {
            EnsureMatches(latest);
            Volatile.Write(ref _latest, latest);
        }

        return latest;
    }

    /// <summary>The fork check: the tiles' root at the checkpoint's size must be the signed one.</summary>
    private void EnsureMatches(StoredCheckpoint latest)
    {
        if (latest.Size > Size || !_tiles.Root(latest.Size).AsSpan().SequenceEqual(latest.Root))
        {
            // Signing on top of a store that no longer matches its last checkpoint would publish a fork.
            throw new InvalidOperationException(
                $"The store does not match its latest checkpoint (size {latest.Size}); run 'edge audit verify' before restarting the writer.");
        }
    }

    /// <summary>
    /// Called once this writer holds the lease: waits until no append of a previous sequencer is in flight, reads the rest
    /// of the log, checks it against the last signed checkpoint and only then appends. Its next checkpoint extends a tree
    /// that contains every leaf the previous one signed, so it is consistent with it.
    /// </summary>
    public async Task TakeOverAsync(CancellationToken cancellationToken)
    {
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            (Store as PostgresAuditStore)?.WaitForInFlightAppends();
            // While another writer sequenced it may have erased or shredded subjects this writer had cached.
            _subjectKeys.Clear();
            var latest = CatchUp();
            if (latest is not null)
            {
                EnsureMatches(latest);
            }

            var stored = Store.Count();
            if (stored != Size)
            {
                // The database holds fewer records than this writer once read or appended: acknowledged records were
                // lost (e.g. a PostgreSQL failover to a replica that had not received them). Appending now would give
                // other leaves the indexes of records that checkpoints may already have published.
                throw new InvalidOperationException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"The store holds {stored} records but this writer's tree has {Size}: records it saw were lost; check with 'edge audit verify' before any writer sequences."));
            }

            Volatile.Write(ref _latest, latest ?? SignAndStore(0, MerkleHasher.EmptyRoot.ToArray()));
            Volatile.Write(ref _isSequencer, true);
            Volatile.Read(ref _sequencing).TrySetResult();
            Log.BecameSequencer(_logger, Size, _latest.Size);
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>Stops appending at once (the lease is gone or an append was fenced).</summary>
    public void StepDown(string reason)
    {
        // Another writer may erase or shred subjects from now on: nothing cached here may be used after a takeover.
        _subjectKeys.Clear();
        if (Interlocked.Exchange(ref _isSequencer, false))
        {
            Volatile.Write(ref _sequencing, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            Log.BecameStandby(_logger, reason);
        }
    }

    public void Dispose()
    {
        _subjectKeys.Dispose();
        Store.Dispose();
        _storeLock?.Dispose();
        foreach (var signer in _signers)
        {
            signer.Dispose();
        }

        _appendLock.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Audit store {StorePath} opened with {Size} records in {OpenMs} ms; latest checkpoint at size {CheckpointSize}")]
        public static partial void Opened(ILogger logger, string storePath, long size, long checkpointSize, long openMs);

        [LoggerMessage(2130, LogLevel.Information, "Erasure made the subject of {Records} records unreadable (tenant scope {TenantScope})")]
        public static partial void Erased(ILogger logger, long records, string tenantScope);

        [LoggerMessage(2132, LogLevel.Information, "This writer now sequences the shared log at size {Size}; latest checkpoint at size {CheckpointSize}")]
        public static partial void BecameSequencer(ILogger logger, long size, long checkpointSize);

        [LoggerMessage(2133, LogLevel.Warning, "This writer stopped sequencing and stands by: {Reason}")]
        public static partial void BecameStandby(ILogger logger, string reason);

        [LoggerMessage(2131, LogLevel.Warning, "The WAL could not be truncated after an erasure or retention run (readers kept it busy); deleted bytes may remain in it until the next run")]
        public static partial void WalNotTruncated(ILogger logger);

        [LoggerMessage(2137, LogLevel.Warning, "The WAL could not be truncated at start (a reader such as edge audit verify kept it busy); bytes deleted by an erasure or retention run before the stop may remain in it until the next run")]
        public static partial void WalNotTruncatedAtStart(ILogger logger);

        [LoggerMessage(2134, LogLevel.Warning, "Building the tiles of {Records} records once (the store's tiles stop at {Tiled}); the writer starts serving when done")]
        public static partial void BuildingTiles(ILogger logger, long records, long tiled);

        [LoggerMessage(2135, LogLevel.Information, "Built the tiles of {Records} records in {ElapsedMs} ms")]
        public static partial void TilesBuilt(ILogger logger, long records, long elapsedMs);

        [LoggerMessage(2136, LogLevel.Information, "Stored {Records} records already erased: made before their subject's erasure, delivered after it")]
        public static partial void ErasedOnArrival(ILogger logger, int records);
    }
}

/// <summary>This writer stands by (another holds the sequencer lease): ingest, erasure and retention go to the sequencer.</summary>
internal sealed class WriterStandbyException() : Exception("This writer is a standby; another writer sequences the log.");

/// <summary>The store file this writer opened is no longer at its path: nothing may be acknowledged into it.</summary>
/// <summary>When the store last refused an append, and the store's own words for why.</summary>
internal sealed record StoreWriteFailure(DateTimeOffset At, string Reason);

internal sealed class StoreFileGoneException(string path) : IOException($"The audit store '{path}' is no longer there (deleted or moved while the writer runs).")
{
    public string StorePath { get; } = path;
}

internal sealed record ErasureResult(long Records, bool WalTruncated);

internal sealed record RetentionResult(long Pruned, int SubjectsShredded, bool WalTruncated);
