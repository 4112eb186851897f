namespace Edge.Audit.Spool;

/// <summary>
/// One process per spool directory: an exclusive lock on <c>.lock</c> in it (<see cref="ExclusiveLockFile"/>), held
/// from recovery until the spool closes. A second edge given the same directory would run recovery on the first one's
/// active segment, cutting the mapped file under it (the first edge then dies on its next append), and ship,
/// acknowledge and delete its segments. The file itself stays and holds nothing.
/// </summary>
internal sealed class SpoolDirectoryLock : IDisposable
{
    public const string FileName = ".lock";

    private readonly FileStream _handle;

    private SpoolDirectoryLock(FileStream handle) => _handle = handle;

    /// <summary>Takes the lock, or throws <see cref="SpoolInUseException"/> when another process holds it.</summary>
    public static SpoolDirectoryLock Acquire(string directory) =>
        ExclusiveLockFile.TryAcquire(Path.Combine(directory, FileName)) is { } handle
            ? new SpoolDirectoryLock(handle)
            : throw new SpoolInUseException(directory);

    public void Dispose() => _handle.Dispose();
}

/// <summary>The spool directory is locked by another process (another edge with the same <c>Edge:Audit:SpoolPath</c>).</summary>
public sealed class SpoolInUseException(string directory) : IOException(
    $"The audit spool directory '{Path.GetFullPath(directory)}' is in use by another process (its {SpoolDirectoryLock.FileName} file is locked): "
    + "each edge needs a spool directory of its own (Edge:Audit:SpoolPath).")
{
    public string Directory { get; } = directory;
}
