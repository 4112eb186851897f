using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Edge.Audit.Spool;

/// <summary>
/// The segment files of one spool, oldest first, and the bytes they hold: rolls the active segment over past
/// <see cref="SpoolOptions.SegmentBytes"/> and deletes whole segments once they lie entirely below the ack mark.
/// The active stream is used by the writer loop only; the list is shared with readers and acknowledgements.
/// </summary>
internal sealed class SpoolSegmentSet(SpoolOptions options)
{
    internal const string SegmentSuffix = ".seg";

    private readonly object _lock = new();
    private readonly List<SpoolSegment> _segments = [];

    // Held while an fsync runs and while the write path hands a stream over, so the syncer never fsyncs a handle that
    // is being disposed. The write path takes it only when it rolls to a new segment or closes.
    private readonly object _syncLock = new();
    private readonly List<FileStream> _retired = [];
    private FileStream? _active;
    private SafeFileHandle? _activeHandle;
    private long _bytes;

    /// <summary>Held for the length of every fsync (tests hold it to stand for a slow disk).</summary>
    internal object SyncLock => _syncLock;

    /// <summary>Bytes of whole frames over all segments.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _segments.Count;
            }
        }
    }

    /// <summary>The file name of a segment is its first sequence, zero-padded so names sort like sequences.</summary>
    public static string PathFor(string directory, long firstSequence) =>
        Path.Combine(directory, firstSequence.ToString("D20", CultureInfo.InvariantCulture) + SegmentSuffix);

    /// <summary>The segment files in the spool directory, ordered by first sequence.</summary>
    public static List<(string Path, long FirstSequence)> ListFiles(string directory) =>
        Directory.GetFiles(directory, "*" + SegmentSuffix)
            .Select(path => (Path: path, FirstSequence: long.Parse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture)))
            .OrderBy(f => f.FirstSequence)
            .ToList();

    /// <summary>Adds a segment found by recovery (in order), counting its bytes.</summary>
    public void AddRecovered(SpoolSegment segment)
    {
        lock (_lock)
        {
            _segments.Add(segment);
        }

        Interlocked.Add(ref _bytes, segment.Length);
    }

    /// <summary>
    /// The stream to write a frame of <paramref name="frameBytes"/> to: the active segment while it has room (an empty
    /// segment always takes one frame), else a new segment starting at <paramref name="nextSequence"/>.
    /// </summary>
    public FileStream ActiveStreamFor(int frameBytes, long nextSequence)
    {
        SpoolSegment? current;
        lock (_lock)
        {
            current = _segments.Count > 0 ? _segments[^1] : null;
        }

        if (_active is not null && current is not null && (current.Length == 0 || current.Length + frameBytes <= options.SegmentBytes))
        {
            return _active;
        }

        var rolled = _active is not null;
        if (_active is not null)
        {
            // To the OS now; the fsync and the dispose are the next SyncToDisk's, so a roll never waits for the disk.
            _active.Flush(flushToDisk: false);
            lock (_syncLock)
            {
                _retired.Add(_active);
                _active = null;
                _activeHandle = null;
            }
        }

        SpoolSegment segment;
        if (current is not null && !rolled && current.Length + frameBytes <= options.SegmentBytes)
        {
            // After a restart the last recovered segment keeps filling up.
            segment = current;
        }
        else
        {
            segment = new SpoolSegment(nextSequence, PathFor(options.Directory, nextSequence), 0);
            lock (_lock)
            {
                _segments.Add(segment);
            }
        }

        _active = new FileStream(segment.Path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 64 * 1024,
        });
        _active.Seek(segment.Length, SeekOrigin.Begin);
        lock (_syncLock)
        {
            // Read once here: FileStream.SafeFileHandle flushes the stream's buffer, which only the write path may do.
            _activeHandle = _active.SafeFileHandle;
        }

        return _active;
    }

    /// <summary>Counts a frame just written to the active segment.</summary>
    public void Appended(int frameBytes)
    {
        lock (_lock)
        {
            _segments[^1].Length += frameBytes;
        }

        Interlocked.Add(ref _bytes, frameBytes);
    }

    /// <summary>Pushes the active segment's buffer to the OS (write path only).</summary>
    public void FlushActive() => _active?.Flush(flushToDisk: false);

    /// <summary>
    /// Fsyncs what earlier <see cref="FlushActive"/> calls and rolls handed to the OS: segments retired by a roll (then
    /// closed) and the active one. Safe to call from another thread than the write path's, while it keeps writing.
    /// </summary>
    public void SyncToDisk()
    {
        lock (_syncLock)
        {
            foreach (var retired in _retired)
            {
                retired.Flush(flushToDisk: true);
                retired.Dispose();
            }

            _retired.Clear();
            if (_activeHandle is { IsClosed: false } handle)
            {
                RandomAccess.FlushToDisk(handle);
            }
        }
    }

    /// <summary>Writes, fsyncs and closes every stream (write path only, at the end).</summary>
    public void CloseActive()
    {
        _active?.Flush(flushToDisk: false);
        SyncToDisk();
        lock (_syncLock)
        {
            _active?.Dispose();
            _active = null;
            _activeHandle = null;
        }
    }

    /// <summary>The segment that holds <paramref name="sequence"/>, or the oldest one when it lies below them all.</summary>
    public SpoolSegment? Find(long sequence)
    {
        lock (_lock)
        {
            for (var i = _segments.Count - 1; i >= 0; i--)
            {
                if (_segments[i].FirstSequence <= sequence)
                {
                    return _segments[i];
                }
            }

            return _segments.Count > 0 ? _segments[0] : null;
        }
    }

    /// <summary>The segment after the one starting at <paramref name="firstSequence"/>, or null at the tail.</summary>
    public SpoolSegment? FindAfter(long firstSequence)
    {
        lock (_lock)
        {
            return _segments.FirstOrDefault(s => s.FirstSequence > firstSequence);
        }
    }

    /// <summary>Deletes the segments that lie wholly at or below <paramref name="ackedSequence"/>; the last one always stays.</summary>
    public void DeleteCoveredBy(long ackedSequence)
    {
        lock (_lock)
        {
            // A segment's last sequence is one below the next segment's first; the active (last) one stays.
            while (_segments.Count > 1 && _segments[1].FirstSequence - 1 <= ackedSequence)
            {
                var segment = _segments[0];
                _segments.RemoveAt(0);
                Interlocked.Add(ref _bytes, -segment.Length);
                File.Delete(segment.Path);
            }
        }
    }

    /// <summary>
    /// Deletes a lone empty segment whose name does not match the next sequence to write: appending to it would break
    /// the rule that a segment's name is the sequence of its first frame.
    /// </summary>
    public void DeleteMisnamedEmpty(long nextSequence)
    {
        lock (_lock)
        {
            if (_segments.Count == 1 && _segments[0].Length == 0 && _segments[0].FirstSequence != nextSequence)
            {
                File.Delete(_segments[0].Path);
                _segments.Clear();
            }
        }
    }
}
