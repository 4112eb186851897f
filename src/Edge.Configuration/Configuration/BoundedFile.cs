using System.Runtime.InteropServices;

namespace Edge.Configuration;

/// <summary>
/// Reads the files a config names (proxy.json itself, <c>file:</c> secrets, schemas) with a size cap: a reference to
/// <c>/dev/zero</c>, <c>/dev/urandom</c> or a runaway log would otherwise be read until the process runs out of memory,
/// on every hot reload and in <c>edge config validate</c>. Over the cap is a config error, like a missing file.
/// </summary>
public static class BoundedFile
{
    /// <summary>proxy.json: far above any real gateway config (10,000 routes are a few MB).</summary>
    public const int MaxConfigBytes = 32 * 1024 * 1024;

    /// <summary>A <c>file:</c> secret holds one key, token or PEM chain.</summary>
    public const int MaxSecretBytes = 1024 * 1024;

    /// <summary>A JSON Schema of a validated body.</summary>
    public const int MaxSchemaBytes = 16 * 1024 * 1024;

    /// <summary>
    /// Why a named file could not be read, after "secret file 'PATH' ": an exception's type name alone
    /// ("cannot be read: UnauthorizedAccessException") did not tell a directory from a permission problem.
    /// </summary>
    public static string DescribeReadFailure(Exception ex, string path) => ex switch
    {
        NotAFileException => NotAFileException.Reason,
        FileNotFoundException or DirectoryNotFoundException => "does not exist",
        UnauthorizedAccessException when Directory.Exists(path) => "is a directory, not a file",
        UnauthorizedAccessException => "cannot be read: permission denied for this process's user",
        _ => $"cannot be read: {ex.GetType().Name}",
    };

    /// <summary>
    /// Why proxy.json could not be read, in the words the edge and <c>edge config validate</c> both use: a folder (or a
    /// link to one) was reported as "Access to the path is denied", which sent operators to check permissions.
    /// </summary>
    public static string DescribeConfigReadFailure(Exception ex, string path) => ex switch
    {
        FileTooLargeException or NotAFileException => ex.Message,
        FileNotFoundException or DirectoryNotFoundException => $"the file '{path}' does not exist",
        UnauthorizedAccessException when Directory.Exists(path) => $"the file '{path}' is a directory, not a file",
        UnauthorizedAccessException => $"the file '{path}' cannot be read: permission denied for this process's user",
        _ => $"the file '{path}' cannot be read: {ex.Message}",
    };

    public static byte[] ReadAllBytes(string path, int maxBytes)
    {
        using var stream = Open(path, FileOptions.None);
        var buffer = new byte[InitialSize(stream, maxBytes)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                buffer = Grow(buffer, maxBytes, path);
            }

            var read = stream.Read(buffer, length, buffer.Length - length);
            if (read == 0)
            {
                return buffer.AsSpan(0, length).ToArray();
            }

            length += read;
        }
    }

    public static async Task<byte[]> ReadAllBytesAsync(string path, int maxBytes, CancellationToken cancellationToken = default)
    {
        await using var stream = Open(path, FileOptions.Asynchronous);
        var buffer = new byte[InitialSize(stream, maxBytes)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                buffer = Grow(buffer, maxBytes, path);
            }

            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.AsSpan(0, length).ToArray();
            }

            length += read;
        }
    }

    /// <summary>How a size in bytes is said in an error.</summary>
    public static string Describe(int bytes) => bytes >= 1024 * 1024 ? $"{bytes / (1024 * 1024)} MiB" : $"{bytes / 1024} KiB";

    private static FileStream Open(string path, FileOptions options) =>
        IsPipe(path) ? throw new NotAFileException(path)
            : new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, options);

    /// <summary>
    /// Whether the path opens a named pipe or a socket. Opening a FIFO for reading blocks until a writer opens it: a
    /// <c>file:</c> secret named at one held the reload lock for good (every later edit, the fix included, was never
    /// applied, with nothing in /edge/status), and each poll of its stamp blocked one more thread. The probe opens it
    /// without blocking; a pipe is the one kind of file that cannot seek.
    /// </summary>
    internal static bool IsPipe(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var descriptor = Native.Open(path, Native.ReadOnlyNonBlockingCloseOnExec);
        if (descriptor < 0)
        {
            return false; // the real open reports why (missing, a folder, no permission)
        }

        try
        {
            return Native.Seek(descriptor, 0, Native.SeekCurrent) < 0 && Marshal.GetLastPInvokeError() == Native.IllegalSeek;
        }
        finally
        {
            _ = Native.Close(descriptor);
        }
    }

    private static class Native
    {
        // O_RDONLY | O_NONBLOCK | O_CLOEXEC, the same on Linux x64 and arm64.
        public const int ReadOnlyNonBlockingCloseOnExec = 0x800 | 0x80000;
        public const int SeekCurrent = 1;
        public const int IllegalSeek = 29; // ESPIPE

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
        public static extern long Seek(int descriptor, long offset, int whence);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        public static extern int Close(int descriptor);
    }

    // A regular file says its length (one read); a device or pipe says 0 and is read in growing steps up to the cap.
    private static int InitialSize(FileStream stream, int maxBytes)
    {
        long length;
        try
        {
            length = stream.CanSeek ? stream.Length : 0;
        }
        catch (IOException)
        {
            length = 0;
        }

        return (int)Math.Clamp(length + 1, 4096, (long)maxBytes + 1);
    }

    private static byte[] Grow(byte[] buffer, int maxBytes, string path)
    {
        if (buffer.Length > maxBytes)
        {
            throw new FileTooLargeException(path, maxBytes);
        }

        var larger = new byte[(int)Math.Min((long)buffer.Length * 2, (long)maxBytes + 1)];
        buffer.CopyTo(larger, 0);
        return larger;
    }
}

/// <summary>A file a config names is larger than its cap (<see cref="BoundedFile"/>).</summary>
public sealed class FileTooLargeException(string path, int maxBytes)
    : IOException($"the file '{path}' is larger than {BoundedFile.Describe(maxBytes)}")
{
    public int MaxBytes { get; } = maxBytes;
}

/// <summary>A file a config names is a named pipe or a socket (<see cref="BoundedFile.IsPipe"/>).</summary>
public sealed class NotAFileException(string path) : IOException($"the file '{path}' {Reason}")
{
    public const string Reason = "is a named pipe or socket, not a file";
}
