using Microsoft.Win32.SafeHandles;

namespace Edge.Audit.Spool;

/// <summary>
/// Rebuilds a spool's state from its directory at start: loads the ack mark, scans every segment frame by frame,
/// cuts a torn tail off at the last valid frame, and deletes segments the writer already acknowledged.
/// </summary>
internal static class SpoolRecovery
{
    // Frames are checked in a read-ahead window rather than with two reads each.
    private const int WindowBytes = 256 * 1024;

    /// <summary>Returns the last sequence found on disk (or the ack mark when the segments hold nothing newer).</summary>
    /// <remarks>
    /// A segment whose first frame lies above the sequence the ack mark and the segments before it lead to starts after a
    /// gap: reported in <paramref name="gaps"/> and marked (<see cref="SpoolSegment.MissingFrom"/>), nothing cut or
    /// deleted. The records in it were gone before this start (a segment moved out or cut with the edge stopped, the
    /// documented way to give up a damaged segment's records, or a power cut), so the reader goes on past it; a gap that
    /// appears later, while the edge runs, stops shipping at it.
    /// </remarks>
    public static async Task<long> RecoverAsync(
        SpoolOptions options, SpoolAckMark ackMark, SpoolSegmentSet segments, SpoolBacklog backlog, CancellationToken cancellationToken,
        List<SpoolDamage>? damage = null, List<SpoolGap>? gaps = null)
    {
        CreateDirectory(options.Directory);
        var acked = await ackMark.LoadAsync(cancellationToken).ConfigureAwait(false);
        var last = acked;
        var window = new byte[WindowBytes];
        var files = SpoolSegmentSet.ListFiles(options.Directory);
        // The sequence the next frame should have; unknown after a segment kept damaged (its frames past the damage do
        // not read back, so where it ends is not known).
        long? expected = acked + 1;
        for (var i = 0; i < files.Count; i++)
        {
            var (path, first) = files[i];
            var (validLength, firstInSegment, lastInSegment, damaged) = await RecoverSegmentAsync(
                path, acked, backlog, window, cancellationToken, isLast: i == files.Count - 1, damage).ConfigureAwait(false);
            last = Math.Max(last, lastInSegment);
            long missingFrom = 0;
            if (firstInSegment > expected)
            {
                missingFrom = expected.Value;
                gaps?.Add(new SpoolGap(path, missingFrom, firstInSegment));
            }

            if (damaged)
            {
                expected = null;
            }
            else if (firstInSegment > 0)
            {
                expected = Math.Max(expected ?? 0, lastInSegment + 1);
            }

            segments.AddRecovered(new SpoolSegment(first, path, validLength) { Damaged = damaged, MissingFrom = missingFrom });
        }

        segments.DeleteCoveredBy(acked);
        segments.DeleteMisnamedEmpty(last + 1);
        return last;
    }

    /// <summary>Creates the spool directory when missing.</summary>
    public static void CreateDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            // Private to the edge's user when the edge creates it (an existing directory keeps the operator's mode).
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Checks one segment; truncates it after its last valid frame and returns that length and its first and last sequences (0 when it holds none).</summary>
    /// <remarks>
    /// Only the last segment can end in a torn write (the one being written when the process or the machine stopped):
    /// there, whatever follows the last frame that reads back is cut. An earlier segment was cut after its last frame
    /// and fsynced when the next one started, so a frame in it that does not read back is damage (a flipped bit, a
    /// failing disk), and the frames after it are records clients got answers for: it is kept whole, reported, and the
    /// shipper stops at the damaged frame as it does for damage found while running. Before, the segment was cut there
    /// without a word, and every record after the damage was lost. An earlier segment's tail of zeros only (its cut not
    /// yet on disk when the power went) is cut as before.
    /// </remarks>
    internal static async Task<(long ValidLength, long FirstSequence, long LastSequence, bool Damaged)> RecoverSegmentAsync(
        string path, long acked, SpoolBacklog backlog, byte[] window, CancellationToken cancellationToken, bool isLast = true,
        List<SpoolDamage>? damage = null)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var reader = new WindowedReader(handle, window);
        var length = RandomAccess.GetLength(handle);
        long offset = 0;
        long first = 0;
        long last = 0;
        while (offset + SpoolFrame.HeaderSize <= length)
        {
            var header = await reader.ReadAsync(offset, SpoolFrame.HeaderSize, cancellationToken).ConfigureAwait(false);
            if (header.Length < SpoolFrame.HeaderSize
                || !SpoolFrame.TryReadHeader(header.Span, out var payloadLength, out var sequence, out var unixMs, out var checksum)
                || offset + SpoolFrame.HeaderSize + payloadLength > length)
            {
                break;
            }

            var frameBytes = SpoolFrame.HeaderSize + payloadLength;
            var frame = await reader.ReadAsync(offset, frameBytes, cancellationToken).ConfigureAwait(false);
            if (frame.Length < frameBytes || SpoolFrame.Checksum(frame.Span[4..20], frame.Span[SpoolFrame.HeaderSize..]) != checksum)
            {
                break;
            }

            if (sequence > acked)
            {
                backlog.Add(sequence, unixMs);
            }

            if (first == 0)
            {
                first = sequence;
            }

            last = Math.Max(last, sequence);
            offset += frameBytes;
        }

        if (offset < length)
        {
            var zerosOnly = await IsZerosAsync(handle, offset, length, window, cancellationToken).ConfigureAwait(false);
            if (!isLast && !zerosOnly && await HasFrameAfterAsync(handle, offset, length, last, cancellationToken).ConfigureAwait(false))
            {
                damage?.Add(new SpoolDamage(path, offset, length - offset, last, Kept: true));
                return (length, first, last, true);
            }

            // Anything after the last valid frame of the last segment, or of an earlier one when no frame follows it, is a
            // write torn by a crash (with the shipped durability, a power cut's: kill -9 leaves the page cache whole, and
            // the tail is the reserved zeros).
            if (!zerosOnly)
            {
                damage?.Add(new SpoolDamage(path, offset, length - offset, last, Kept: false));
            }

            RandomAccess.SetLength(handle, offset);
        }

        return (offset, first, last, false);
    }

    /// <summary>
    /// True when a frame that reads back (checksum included) starts somewhere after <paramref name="from"/>: what lies
    /// before it is damage, not a torn tail. Read only for a segment found damaged, so only then does it cost a pass.
    /// </summary>
    private static async Task<bool> HasFrameAfterAsync(SafeFileHandle handle, long from, long to, long lastSequence, CancellationToken cancellationToken)
    {
        var rest = new byte[to - from];
        var read = await RandomAccess.ReadAsync(handle, rest, from, cancellationToken).ConfigureAwait(false);
        for (var at = 1; at + SpoolFrame.HeaderSize <= read; at++)
        {
            var header = rest.AsSpan(at, SpoolFrame.HeaderSize);
            if (SpoolFrame.TryReadHeader(header, out var payloadLength, out var sequence, out _, out var checksum)
                && sequence > lastSequence && sequence - lastSequence <= read
                && at + SpoolFrame.HeaderSize + (long)payloadLength <= read
                && SpoolFrame.Checksum(header[4..20], rest.AsSpan(at + SpoolFrame.HeaderSize, payloadLength)) == checksum)
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<bool> IsZerosAsync(SafeFileHandle handle, long from, long to, byte[] window, CancellationToken cancellationToken)
    {
        for (var offset = from; offset < to;)
        {
            var read = await RandomAccess.ReadAsync(handle, window.AsMemory(0, (int)Math.Min(window.Length, to - offset)), offset, cancellationToken)
                .ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            if (window.AsSpan(0, read).ContainsAnyExcept((byte)0))
            {
                return false;
            }

            offset += read;
        }

        return true;
    }

    private sealed class WindowedReader(SafeFileHandle handle, byte[] window)
    {
        private long _start;
        private int _length;

        public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int count, CancellationToken cancellationToken)
        {
            if (offset >= _start && offset + count <= _start + _length)
            {
                return window.AsMemory((int)(offset - _start), count);
            }

            if (count > window.Length)
            {
                var large = new byte[count];
                var read = await RandomAccess.ReadAsync(handle, large, offset, cancellationToken).ConfigureAwait(false);
                return large.AsMemory(0, read);
            }

            _start = offset;
            _length = await RandomAccess.ReadAsync(handle, window, offset, cancellationToken).ConfigureAwait(false);
            return window.AsMemory(0, Math.Min(count, _length));
        }
    }
}
