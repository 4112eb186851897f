using Microsoft.Win32.SafeHandles;

namespace Edge.Audit.Spool;

/// <summary>
/// Rebuilds a spool's state from its directory at start: loads the ack mark, scans every segment frame by frame,
/// skips damaged frames to the next frame that reads back, cuts a torn tail off at the last valid frame, reports the
/// records missing (<see cref="SpoolGap"/>), and deletes segments the writer already acknowledged.
/// </summary>
internal static class SpoolRecovery
{
    // Frames are checked in a read-ahead window rather than with two reads each.
    private const int WindowBytes = 256 * 1024;

    // The smallest frame: a header and a payload of one byte. A damaged range of n bytes held at most n / MinFrameBytes frames.
    private const int MinFrameBytes = SpoolFrame.HeaderSize + 1;

    /// <summary>Returns the last sequence found on disk or known lost (or the ack mark when the segments hold nothing newer).</summary>
    /// <remarks>
    /// Every record above the ack mark that the segments should hold and do not is reported in <paramref name="gaps"/>
    /// and accepted by the reader (<see cref="SpoolSegmentSet.IsKnownLost"/>), nothing cut or deleted for it: a segment
    /// that starts above the sequence the ones before it lead to (a segment moved out or cut with the edge stopped, the
    /// ack mark file removed, a power cut that took the unsynced end of a segment after the next one started), frames that
    /// do not read back between frames that do (a flipped bit, a failing disk: <see cref="SpoolSegment.Skips"/>), and a
    /// torn tail in the last segment (a power cut: its sequences are not given out again). Before, a damaged frame in an
    /// earlier segment stopped shipping there for good, and the records in a torn tail left no trace.
    /// </remarks>
    public static async Task<long> RecoverAsync(
        SpoolOptions options, SpoolAckMark ackMark, SpoolSegmentSet segments, SpoolBacklog backlog, CancellationToken cancellationToken,
        List<SpoolDamage>? damage = null, List<SpoolGap>? gaps = null)
    {
        CreateDirectory(options.Directory);
        var acked = await ackMark.LoadAsync(cancellationToken).ConfigureAwait(false);
        var window = new byte[WindowBytes];
        var files = SpoolSegmentSet.ListFiles(options.Directory);
        var sequences = new SequenceTracker(acked, segments, gaps);
        for (var i = 0; i < files.Count; i++)
        {
            var (path, first) = files[i];
            var (validLength, skips) = await RecoverSegmentAsync(
                path, first, acked, backlog, window, sequences, cancellationToken, isLast: i == files.Count - 1, damage).ConfigureAwait(false);
            segments.AddRecovered(new SpoolSegment(first, path, validLength) { Skips = skips });
        }

        var last = sequences.Expected - 1;
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

    /// <summary>
    /// Checks one segment: skips damaged ranges to the next frame that reads back, truncates it after its last valid
    /// frame, and returns that length and the ranges skipped.
    /// </summary>
    /// <remarks>
    /// A frame that does not read back with one that does after it is damage: the bytes stay (the segment goes once the
    /// writer acknowledged past it), the reader jumps over them, and the records they held are reported lost. What
    /// follows the last frame that reads back is a torn write (or the zeros of a mapping) and is cut; in the last segment
    /// the records it held are reported lost too (in an earlier one, the next segment's first frame says how many).
    /// Nothing is read into memory beyond one window and one frame (at most <see cref="SpoolFrame.MaxPayload"/>),
    /// whatever the file's size or its length fields say.
    /// </remarks>
    private static async Task<(long ValidLength, List<SpoolSkip> Skips)> RecoverSegmentAsync(
        string path, long named, long acked, SpoolBacklog backlog, byte[] window, SequenceTracker sequences, CancellationToken cancellationToken,
        bool isLast, List<SpoolDamage>? damage)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var reader = new WindowedReader(handle, window);
        var length = RandomAccess.GetLength(handle);
        var skips = new List<SpoolSkip>();
        byte[]? scan = null;
        long offset = 0;
        long last = 0;
        while (offset + SpoolFrame.HeaderSize <= length)
        {
            var frame = await TryReadFrameAsync(reader, offset, length, cancellationToken).ConfigureAwait(false);
            if (frame is { } found)
            {
                Accept(found.Sequence, found.UnixMs);
                offset += found.Bytes;
                continue;
            }

            // The segment's name is the sequence of its first frame, so a damaged first frame still says where it starts.
            var floor = last > 0 ? last : named - 1;
            scan ??= new byte[WindowBytes];
            var next = await FindFrameAsync(handle, reader, scan, offset + 1, offset, length, floor, verify: true, cancellationToken).ConfigureAwait(false);
            if (next is not { } resync)
            {
                break;
            }

            damage?.Add(new SpoolDamage(path, offset, resync.Offset - offset, last, Kept: true));
            skips.Add(new SpoolSkip(offset, resync.Offset));
            offset = resync.Offset;
        }

        if (offset < length)
        {
            // Anything after the last valid frame is a write torn by a crash (with the shipped durability, a power cut's:
            // kill -9 leaves the page cache whole, and the tail is the reserved zeros).
            if (!await IsZerosAsync(handle, offset, length, window, cancellationToken).ConfigureAwait(false))
            {
                damage?.Add(new SpoolDamage(path, offset, length - offset, last, Kept: false));
                if (isLast)
                {
                    // A frame was being written there (its append may have completed: its client answered). The headers
                    // that still read say how many; one at least.
                    var floor = last > 0 ? last : named - 1;
                    scan ??= new byte[WindowBytes];
                    var torn = await FindFrameAsync(handle, reader, scan, offset, offset, length, floor, verify: false, cancellationToken, highest: true)
                        .ConfigureAwait(false);
                    sequences.Lost(path, floor + 1, Math.Max(floor + 1, torn?.Sequence ?? 0));
                }
            }

            RandomAccess.SetLength(handle, offset);
        }

        return (offset, skips);

        void Accept(long sequence, long unixMs)
        {
            if (sequence > acked)
            {
                backlog.Add(sequence, unixMs);
            }

            sequences.Saw(path, sequence);
            last = Math.Max(last, sequence);
        }
    }

    /// <summary>The frame at <paramref name="offset"/> when it reads back whole (header, length within the file, checksum).</summary>
    private static async Task<(long Sequence, long UnixMs, int Bytes)?> TryReadFrameAsync(
        WindowedReader reader, long offset, long length, CancellationToken cancellationToken)
    {
        var header = await reader.ReadAsync(offset, SpoolFrame.HeaderSize, cancellationToken).ConfigureAwait(false);
        if (header.Length < SpoolFrame.HeaderSize
            || !SpoolFrame.TryReadHeader(header.Span, out var payloadLength, out var sequence, out var unixMs, out var checksum)
            || offset + SpoolFrame.HeaderSize + payloadLength > length)
        {
            return null;
        }

        var frameBytes = SpoolFrame.HeaderSize + payloadLength;
        var frame = await reader.ReadAsync(offset, frameBytes, cancellationToken).ConfigureAwait(false);
        return frame.Length == frameBytes && SpoolFrame.Checksum(frame.Span[4..20], frame.Span[SpoolFrame.HeaderSize..]) == checksum
            ? (sequence, unixMs, frameBytes)
            : null;
    }

    /// <summary>
    /// The first frame from <paramref name="from"/> on whose header is plausible after damage that starts at
    /// <paramref name="damageStart"/> (a sequence above <paramref name="floor"/>, and no more records skipped than the
    /// damaged bytes could hold) and, with <paramref name="verify"/>, that reads back whole; with <paramref name="highest"/>,
    /// the plausible header with the highest sequence instead. Reads the file a window at a time, jumping over runs of zeros.
    /// </summary>
    private static async Task<(long Offset, long Sequence)?> FindFrameAsync(
        SafeFileHandle handle, WindowedReader reader, byte[] scan, long from, long damageStart, long length, long floor, bool verify,
        CancellationToken cancellationToken, bool highest = false)
    {
        (long Offset, long Sequence)? best = null;
        var chunkStart = from;
        while (chunkStart + SpoolFrame.HeaderSize <= length)
        {
            var read = await RandomAccess.ReadAsync(handle, scan.AsMemory(0, (int)Math.Min(scan.Length, length - chunkStart)), chunkStart, cancellationToken)
                .ConfigureAwait(false);
            if (read < SpoolFrame.HeaderSize)
            {
                break;
            }

            var index = 0;
            while (NextPlausibleHeader(scan.AsSpan(0, read), ref index, chunkStart, damageStart, length, floor, out var sequence))
            {
                var at = chunkStart + index;
                if (!verify || await TryReadFrameAsync(reader, at, length, cancellationToken).ConfigureAwait(false) is { } frame && frame.Sequence == sequence)
                {
                    if (!highest)
                    {
                        return (at, sequence);
                    }

                    if (best is null || sequence > best.Value.Sequence)
                    {
                        best = (at, sequence);
                    }
                }

                index++;
            }

            // Every start up to here was tried; a header may begin in the last HeaderSize - 1 bytes of this window.
            chunkStart += read - SpoolFrame.HeaderSize + 1;
        }

        return best;
    }

    /// <summary>Moves <paramref name="index"/> to the next start in <paramref name="chunk"/> whose header is plausible; false when none is.</summary>
    private static bool NextPlausibleHeader(
        ReadOnlySpan<byte> chunk, ref int index, long chunkStart, long damageStart, long length, long floor, out long sequence)
    {
        sequence = 0;
        var lastStart = chunk.Length - SpoolFrame.HeaderSize;
        while (index <= lastStart)
        {
            // A header's sequence (bytes 4 to 11) is never 0: across zeros (a sparse or reserved tail), jump to the first
            // start whose sequence bytes reach the next non-zero byte.
            if (!chunk.Slice(index + 4, 8).ContainsAnyExcept((byte)0))
            {
                var nonZero = chunk[(index + 12)..].IndexOfAnyExcept((byte)0);
                if (nonZero < 0)
                {
                    index = lastStart + 1;
                    return false;
                }

                index = Math.Max(index + 1, index + 12 + nonZero - 11);
                continue;
            }

            var at = chunkStart + index;
            if (SpoolFrame.TryReadHeader(chunk.Slice(index, SpoolFrame.HeaderSize), out var payloadLength, out sequence, out _, out _)
                && sequence > floor
                && sequence - floor - 1 <= (at - damageStart) / MinFrameBytes
                && at + SpoolFrame.HeaderSize + (long)payloadLength <= length + (long)SpoolFrame.MaxPayload)
            {
                return true;
            }

            index++;
        }

        return false;
    }

    /// <summary>
    /// The sequence the next frame should have, over every segment in order, and the records found missing on the way:
    /// reported, and accepted by the reader.
    /// </summary>
    private sealed class SequenceTracker(long acked, SpoolSegmentSet segments, List<SpoolGap>? gaps)
    {
        public long Expected { get; private set; } = acked + 1;

        /// <summary>A frame that reads back, in <paramref name="segment"/>.</summary>
        public void Saw(string segment, long sequence)
        {
            if (sequence > Expected)
            {
                Report(segment, Expected, sequence);
            }

            Expected = Math.Max(Expected, sequence + 1);
        }

        /// <summary>Records from <paramref name="from"/> to <paramref name="through"/> were written and did not survive.</summary>
        public void Lost(string segment, long from, long through)
        {
            if (through < Expected)
            {
                // Acknowledged before the crash: the writer holds them.
                return;
            }

            Report(segment, Math.Max(from, Expected), through + 1);
            Expected = through + 1;
        }

        private void Report(string segment, long expected, long found)
        {
            gaps?.Add(new SpoolGap(segment, expected, found));
            segments.AddKnownLost(expected, found - 1);
        }
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
