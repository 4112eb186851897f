using System.Buffers.Binary;

namespace Edge.Audit.Spool;

/// <summary>
/// The persisted cumulative ack mark: the highest sequence the writer has acknowledged, kept in an 8-byte file that is
/// replaced atomically (write a temp file, fsync, rename), so a crash leaves either the old mark or the new one.
/// </summary>
internal sealed class SpoolAckMark(string directory)
{
    internal const string FileName = "acked";

    private readonly string _path = Path.Combine(directory, FileName);
    private long _sequence;

    public long Sequence => Interlocked.Read(ref _sequence);

    /// <summary>Reads the mark; a missing file, or one that is not exactly 8 bytes, means nothing is acknowledged.</summary>
    public async Task<long> LoadAsync(CancellationToken cancellationToken)
    {
        long sequence = 0;
        if (File.Exists(_path) && new FileInfo(_path).Length == 8)
        {
            var bytes = await File.ReadAllBytesAsync(_path, cancellationToken).ConfigureAwait(false);
            if (bytes.Length == 8)
            {
                sequence = BinaryPrimitives.ReadInt64LittleEndian(bytes);
            }
        }

        Interlocked.Exchange(ref _sequence, sequence);
        return sequence;
    }

    /// <summary>
    /// Writes the mark file when there is none yet, so that a later <see cref="Persist"/> can always fall back to
    /// overwriting it in place: on a disk that filled up before the first acknowledgement, that one failed for good.
    /// Best effort: a start on a full disk goes on without it.
    /// </summary>
    public void EnsureFile()
    {
        if (File.Exists(_path))
        {
            return;
        }

        try
        {
            Persist(Sequence);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // The first acknowledgement tries again.
        }
    }

    /// <summary>Persists <paramref name="sequence"/> durably, then makes it the current mark.</summary>
    public void Persist(long sequence)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, sequence);
        var temp = _path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, _path, overwrite: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException && OverwriteInPlace(bytes.ToArray()))
        {
            // A full disk has no block for a new file. The mark not moving kept every acknowledged segment, so the disk
            // never got room back and the spool refused every record until an operator freed space: the existing mark's
            // block is overwritten instead (one 8-byte write at offset 0, which no sector boundary splits).
        }

        Interlocked.Exchange(ref _sequence, sequence);
    }

    /// <summary>Writes the mark over the existing 8-byte file and fsyncs it; false when there is none or it fails too.</summary>
    private bool OverwriteInPlace(byte[] bytes)
    {
        try
        {
            if (!File.Exists(_path) || new FileInfo(_path).Length != 8)
            {
                return false;
            }

            using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Write, FileShare.None);
            RandomAccess.Write(handle, bytes, 0);
            RandomAccess.FlushToDisk(handle);
            return true;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
