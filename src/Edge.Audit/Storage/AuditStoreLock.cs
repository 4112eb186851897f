namespace Edge.Audit.Storage;

/// <summary>
/// One writer per SQLite store: an exclusive lock on <c>&lt;store&gt;.lock</c> beside it (<see cref="ExclusiveLockFile"/>),
/// held by the writer for as long as it has the store open. Each writer keeps the tree's right edge and its size in
/// memory, so a second writer on the same file appended at indexes the first had taken: the first then failed every
/// batch on the unique index (its edges' shipping stalled) while both signed checkpoints of diverging trees.
/// </summary>
/// <remarks>Readers (<see cref="AuditStore.OpenReadOnly"/>, the CLI) take no lock; SQLite's own locking serves them.</remarks>
public sealed class AuditStoreLock : IDisposable
{
    private readonly FileStream _handle;

    private AuditStoreLock(FileStream handle) => _handle = handle;

    /// <summary>The lock file's path for a store.</summary>
    public static string PathFor(string storePath) => Path.GetFullPath(storePath) + ".lock";

    /// <summary>Takes the lock, or throws <see cref="AuditStoreInUseException"/> when another writer holds it.</summary>
    public static AuditStoreLock Acquire(string storePath) =>
        ExclusiveLockFile.TryAcquire(PathFor(storePath)) is { } handle
            ? new AuditStoreLock(handle)
            : throw new AuditStoreInUseException(storePath);

    public void Dispose() => _handle.Dispose();
}

/// <summary>Another writer process has the SQLite store open (the same <c>Writer:StorePath</c>).</summary>
public sealed class AuditStoreInUseException(string storePath) : IOException(
    $"The audit store '{Path.GetFullPath(storePath)}' is in use by another writer (its lock file {AuditStoreLock.PathFor(storePath)} is locked): "
    + "a SQLite store has one writer; for standby writers on a shared store use Writer:Postgres.")
{
    public string StorePath { get; } = storePath;
}
