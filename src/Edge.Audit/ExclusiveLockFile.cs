namespace Edge.Audit;

/// <summary>
/// An exclusive lock on a file, held while the returned handle is open: <c>flock</c> on Linux and macOS, a share-none
/// handle on Windows. The operating system drops it with the process, so a killed holder leaves no stale lock.
/// </summary>
internal static class ExclusiveLockFile
{
    /// <summary>The locked handle, or null when another handle (in this process or another) holds the lock.</summary>
    public static FileStream? TryAcquire(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            return new FileStream(path, options);
        }
        catch (IOException exception) when (IsHeldElsewhere(exception))
        {
            return null;
        }
    }

    // The lock's refusal: EWOULDBLOCK from flock (11 on Linux, 35 on macOS), ERROR_SHARING_VIOLATION on Windows. Any
    // other failure (a missing or unwritable directory) is reported as itself.
    private static bool IsHeldElsewhere(IOException exception) =>
        exception.HResult is 11 or 35 or unchecked((int)0x80070020);
}
