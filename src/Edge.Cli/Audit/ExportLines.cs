namespace Edge.Cli.Audit;

/// <summary>
/// The lines of an NDJSON export, read as a stream: an export of a busy day is many gigabytes, past what one array can
/// hold (File.ReadAllBytes refused anything over 2 GiB, so a day's export could not be verified offline at all).
/// Split on '\n' only: the leaf bytes are exact and must not be re-encoded.
/// </summary>
internal static class ExportLines
{
    /// <summary>Longer than any record a writer takes (its request body limit is 30 MB): the file is not an export.</summary>
    public const int MaxLineBytes = 32 * 1024 * 1024;

    public static IEnumerable<byte[]> Read(string path, int bufferSize = 1 << 20)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var buffer = new byte[bufferSize];
        using var pending = new MemoryStream();
        var line = 1L;
        int read;
        while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            for (var newline = Array.IndexOf(buffer, (byte)'\n', 0, read); newline >= 0; newline = Array.IndexOf(buffer, (byte)'\n', start, read - start))
            {
                Append(pending, buffer, start, newline - start, line);
                yield return pending.ToArray();
                pending.SetLength(0);
                start = newline + 1;
                line++;
            }

            Append(pending, buffer, start, read - start, line);
        }

        if (pending.Length > 0)
        {
            yield return pending.ToArray();
        }
    }

    private static void Append(MemoryStream pending, byte[] buffer, int start, int count, long line)
    {
        if (pending.Length + count > MaxLineBytes)
        {
            throw new InvalidDataException($"line {line} is longer than {MaxLineBytes / (1024 * 1024)} MiB, which no audit record is: the file is not an NDJSON export");
        }

        pending.Write(buffer, start, count);
    }
}
