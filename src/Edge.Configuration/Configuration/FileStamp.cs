namespace Edge.Configuration;

/// <summary>
/// The last write time and length of the file a path opens, through every symbolic link: what proxy.json's readers
/// poll to notice an edit.
/// </summary>
/// <remarks>
/// FileInfo describes a link itself. On a Kubernetes ConfigMap mount proxy.json is <c>proxy.json -> ..data/proxy.json</c>
/// and an update renames a new <c>..data</c> link over the old one, so the link's own stamp never changes and an
/// updated ConfigMap was never loaded (by the edge) or its removed keys kept working (on the audit writer).
/// </remarks>
public static class FileStamp
{
    /// <summary>The stamp, or <c>(DateTime.MinValue, -1)</c> when the file cannot be opened (missing, a folder, no permission).</summary>
    public static (DateTime WrittenAt, long Length) Of(string path)
    {
        if (BoundedFile.IsPipe(path))
        {
            return (DateTime.MinValue, -1); // opening it would block until a writer comes
        }

        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return (File.GetLastWriteTimeUtc(handle), RandomAccess.GetLength(handle));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (DateTime.MinValue, -1);
        }
    }
}
