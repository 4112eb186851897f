namespace Edge.Audit.Spool;

/// <summary>
/// One process per spool directory: an exclusive lock on <c>.lock</c> in it, held from recovery until the spool closes.
/// A second edge given the same directory would run recovery on the first one's active segment, cutting the mapped
/// file under it (the first edge then dies on its next append) and shipping, acknowledging and deleting its segments.
/// </summary>
/// <remarks>
/// The lock is the operating system's (<c>flock</c> on Linux and macOS, a share-none handle on Windows), so a killed
/// edge leaves no stale lock behind: it ends with the process. The file itself stays and holds nothing.
/// </remarks>
internal sealed class SpoolDirectoryLock : IDisposable
{
    public const string FileName = ".lock";

    private readonly FileStream _handle;

    private SpoolDirectoryLock(FileStream handle) => _handle = handle;

    /// <summary>Takes the lock, or throws <see cref="SpoolInUseException"/> when another process holds it.</summary>
    public static SpoolDirectoryLock Acquire(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            return new SpoolDirectoryLock(new FileStream(path, options));
        }
        catch (IOException held) when (IsHeldElsewhere(held))
        {
            throw new SpoolInUseException(directory, held);
        }
    }

    public void Dispose() => _handle.Dispose();

    // The lock's refusal: EWOULDBLOCK from flock (11 on Linux, 35 on macOS), ERROR_SHARING_VIOLATION on Windows. Any
    // other failure (a missing or unwritable directory) is reported as itself.
    private static bool IsHeldElsewhere(IOException exception) =>
        exception.HResult is 11 or 35 or unchecked((int)0x80070020);
}

/// <summary>The spool directory is locked by another process (another edge with the same <c>Edge:Audit:SpoolPath</c>).</summary>
public sealed class SpoolInUseException(string directory, Exception inner) : IOException(
    $"The audit spool directory '{Path.GetFullPath(directory)}' is in use by another process (its {SpoolDirectoryLock.FileName} file is locked): "
    + "each edge needs a spool directory of its own (Edge:Audit:SpoolPath).",
    inner)
{
    public string Directory { get; } = directory;
}
