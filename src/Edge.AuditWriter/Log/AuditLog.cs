using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;
using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;

namespace Edge.AuditWriter.Log;

/// <summary>
/// The log: the SQLite store, the in-memory Merkle tree rebuilt from it, and the signed checkpoints.
/// Appends are serialised; the tree only grows, so every checkpoint it signs is consistent with the previous one.
/// </summary>
internal sealed partial class AuditLog : IDisposable
{
    private readonly SemaphoreSlim _appendLock = new(1, 1);
    private readonly object _treeLock = new();
    private readonly MerkleTree _tree = new();
    private readonly IReadOnlyList<NoteSigner> _signers;
    private readonly TimeProvider _time;
    private readonly string _origin;
    private StoredCheckpoint _latest;

    public AuditLog(WriterOptions options, TimeProvider time, ILogger<AuditLog> logger)
    {
        _time = time;
        _origin = options.Origin;
        var storeDirectory = Path.GetDirectoryName(Path.GetFullPath(options.StorePath));
        Directory.CreateDirectory(storeDirectory!);
        Store = AuditStore.Open(options.StorePath);
        _signers = WriterKeys.Load(options, logger);
        foreach (var hash in Store.ReadLeafHashes())
        {
            _tree.AppendLeafHash(hash);
        }

        var latest = Store.LatestCheckpoint();
        if (latest is not null && (latest.Size > _tree.Size || !_tree.Root(latest.Size).AsSpan().SequenceEqual(latest.Root)))
        {
            // Signing on top of a store that no longer matches its last checkpoint would publish a fork.
            throw new InvalidOperationException(
                $"The store does not match its latest checkpoint (size {latest.Size}); run 'edge audit verify' before restarting the writer.");
        }

        _latest = latest ?? SignAndStore(0, _tree.Root(0));
        Log.Opened(logger, Store.Path, _tree.Size, _latest.Size);
    }

    public AuditStore Store { get; }

    public IReadOnlyList<NoteVerifier> Verifiers => _signers.Select(s => s.Verifier).ToList();

    public StoredCheckpoint LatestCheckpoint => Volatile.Read(ref _latest);

    public long Size
    {
        get
        {
            lock (_treeLock)
            {
                return _tree.Size;
            }
        }
    }

    /// <summary>Durably appends the new records (duplicates by id are ignored); returns how many were new.</summary>
    public async Task<int> AppendAsync(IReadOnlyList<PendingLeaf> leaves, CancellationToken cancellationToken)
    {
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long next;
            lock (_treeLock)
            {
                next = _tree.Size;
            }

            var appended = Store.Append(leaves, next);
            lock (_treeLock)
            {
                foreach (var hash in appended)
                {
                    _tree.AppendLeafHash(hash);
                }
            }

            return appended.Count;
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>Signs and stores a checkpoint when the tree grew since the last one.</summary>
    public async Task<bool> CheckpointAsync(CancellationToken cancellationToken)
    {
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long size;
            byte[] root;
            lock (_treeLock)
            {
                size = _tree.Size;
                if (size <= _latest.Size)
                {
                    return false;
                }

                root = _tree.Root(size);
            }

            Volatile.Write(ref _latest, SignAndStore(size, root));
            return true;
        }
        finally
        {
            _appendLock.Release();
        }
    }

    public IReadOnlyList<byte[]> InclusionProof(long index, long size)
    {
        lock (_treeLock)
        {
            return _tree.InclusionProof(index, size);
        }
    }

    public IReadOnlyList<byte[]> ConsistencyProof(long from, long to)
    {
        lock (_treeLock)
        {
            return _tree.ConsistencyProof(from, to);
        }
    }

    private StoredCheckpoint SignAndStore(long size, byte[] root)
    {
        var note = SignedNote.Sign(new Checkpoint(_origin, size, root), _signers);
        Store.AddCheckpoint(size, root, note, _time.GetUtcNow());
        return new StoredCheckpoint(size, root, note);
    }

    public void Dispose()
    {
        Store.Dispose();
        foreach (var signer in _signers)
        {
            signer.Dispose();
        }

        _appendLock.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Audit store {StorePath} opened with {Size} records; latest checkpoint at size {CheckpointSize}")]
        public static partial void Opened(ILogger logger, string storePath, long size, long checkpointSize);
    }
}
