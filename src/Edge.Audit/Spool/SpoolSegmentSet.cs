using System.Globalization;
using System.IO.MemoryMappedFiles;
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
    private readonly List<(long From, long Through)> _lost = [];

    // Held while an fsync runs and while the write path hands a file handle over, so the syncer never fsyncs a handle
    // that is being disposed. The write path takes it only when it rolls to a new segment or closes.
    private readonly object _syncLock = new();
    private readonly List<(SafeFileHandle Handle, string? Path)> _retired = [];
    private SafeFileHandle? _activeHandle;
    private string? _activePath;
    private volatile bool _rollRequested;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private long _mappedBytes;
    private long _bytes;

    /// <summary>Held for the length of every fsync (tests hold it to stand for a slow disk).</summary>
    internal object SyncLock => _syncLock;

    /// <summary>Called on the thread about to fsync (tests: which thread the disk may block).</summary>
    internal Action? SyncStarting { get; set; }

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

    /// <summary>
    /// The segment files in the spool directory, ordered by first sequence. A file whose name is not a sequence (an
    /// operator's <c>damaged-…seg</c> beside them) is not a segment and is left alone: it stopped the start with a
    /// FormatException.
    /// </summary>
    public static List<(string Path, long FirstSequence)> ListFiles(string directory) =>
        Directory.GetFiles(directory, "*" + SegmentSuffix)
            .Select(path => (Path: path, Named: long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var first) && first > 0, FirstSequence: first))
            .Where(f => f.Named)
            .Select(f => (f.Path, f.FirstSequence))
            .OrderBy(f => f.FirstSequence)
            .ToList();

    /// <summary>
    /// Records the start found missing (sequence ranges, both ends included; reported as <see cref="SpoolGap"/>): the
    /// reader moves on past them. Only recovery adds to it, before the reader runs.
    /// </summary>
    public void AddKnownLost(long from, long through)
    {
        lock (_lock)
        {
            _lost.Add((from, through));
        }
    }

    /// <summary>True when every sequence from <paramref name="from"/> to <paramref name="through"/> is in one range the start found missing.</summary>
    public bool IsKnownLost(long from, long through)
    {
        lock (_lock)
        {
            foreach (var (start, end) in _lost)
            {
                if (start <= from && through <= end)
                {
                    return true;
                }
            }

            return false;
        }
    }

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
    /// Writes one frame (<paramref name="header"/>, then <paramref name="payload"/>) to the active segment while it has
    /// room (an empty segment always takes one frame), else to a new segment starting at <paramref name="sequence"/>,
    /// and counts it (write path only).
    /// </summary>
    /// <remarks>
    /// The active segment is a shared memory mapping of the file: a frame copied into it is in the operating system's
    /// page cache at once, so a killed process loses nothing, without a <c>write</c> system call per frame (or a hop to a
    /// loop that batches them). The file is sized to the segment when it is mapped; the zeros after the last frame are
    /// cut at a roll and at close, and by recovery after a crash (they fail the frame header, as a torn tail does).
    /// </remarks>
    public void Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload, long sequence)
    {
        var frameBytes = header.Length + payload.Length;
        var segment = ActiveFor(frameBytes, sequence);
        var view = _view!.SafeMemoryMappedViewHandle;
        view.WriteSpan((ulong)segment.Length, header);
        view.WriteSpan((ulong)(segment.Length + header.Length), payload);
        lock (_lock)
        {
            segment.Length += frameBytes;
        }

        Interlocked.Add(ref _bytes, frameBytes);
    }

    private SpoolSegment ActiveFor(int frameBytes, long nextSequence)
    {
        SpoolSegment? current;
        lock (_lock)
        {
            current = _segments.Count > 0 ? _segments[^1] : null;
        }

        if (_view is not null && current is not null && current.Length + frameBytes <= _mappedBytes
            && (current.Length == 0 || current.Length + frameBytes <= options.EffectiveSegmentBytes) && !_rollRequested)
        {
            return current;
        }

        var rolled = false;
        if (_view is not null && current is not null)
        {
            // The fsync and the close are the next SyncToDisk's, so a roll never waits for the disk.
            Unmap(current);
            lock (_syncLock)
            {
                _retired.Add((_activeHandle!, _activePath));
                _activeHandle = null;
                _activePath = null;
            }

            // An empty segment and a frame larger than its mapping: the segment is created again below, with blocks
            // reserved for that frame (mapping it larger would extend the file without them).
            rolled = current.Length > 0;
        }

        SpoolSegment segment;
        if (current is not null && !rolled && current.Length == 0)
        {
            // After a restart, a recovered segment without frames is taken as it is. One with frames is not filled up
            // further: its file would be extended without reserved blocks, and a full disk would then answer a store
            // into the mapping with SIGBUS instead of failing the append.
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

        // Every segment written through the mapping is new and gets its blocks reserved now, for the whole mapping (a
        // frame larger than a segment included): a full disk fails this open with an IOException (the append fails, as
        // a failed write did) rather than the first store into a page of the mapping, which the kernel answers with
        // SIGBUS.
        var handle = File.OpenHandle(
            segment.Path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.None,
            Math.Max(options.EffectiveSegmentBytes, segment.Length + frameBytes));
        if (!OperatingSystem.IsWindows())
        {
            // A segment holds records as the edge made them (principals, client addresses) until it is deleted, so
            // only the edge's own user reads it, whatever the umask; the data in it is at most the zeros reserved above.
            File.SetUnixFileMode(handle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        lock (_syncLock)
        {
            // A handle left by an earlier attempt that failed after opening it: the next fsync syncs and closes it.
            if (_activeHandle is { } left)
            {
                _retired.Add((left, _activePath));
            }

            _activeHandle = handle;
            _activePath = segment.Path;
        }

        var mapped = Map(segment, frameBytes);
        _rollRequested = false;
        return mapped;
    }

    /// <summary>
    /// True when the active segment's file is no longer in the spool directory (the directory removed or replaced, the
    /// file deleted while the edge runs); the next write then starts a new segment (<see cref="ActiveFor"/>). Frames
    /// copied into the mapping of a removed file succeed and reach nothing that outlives the process: before, appends went
    /// on there until the segment filled, and the records not yet shipped were gone at the next restart without a trace.
    /// One <c>stat</c>, called after each fsync, never on an append.
    /// </summary>
    public bool ActiveFileGone(out string? path)
    {
        lock (_syncLock)
        {
            path = _activeHandle is { IsClosed: false } ? _activePath : null;
        }

        if (path is null || File.Exists(path))
        {
            return false;
        }

        _rollRequested = true;
        return true;
    }

    private SpoolSegment Map(SpoolSegment segment, int frameBytes)
    {
        var handle = _activeHandle!;
        _mappedBytes = Math.Max(options.EffectiveSegmentBytes, segment.Length + frameBytes);
        RandomAccess.SetLength(handle, _mappedBytes);
        _map = MemoryMappedFile.CreateFromFile(handle, null, _mappedBytes, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
        _view = _map.CreateViewAccessor(0, _mappedBytes, MemoryMappedFileAccess.ReadWrite);
        return segment;
    }

    /// <summary>Unmaps the active segment and cuts the file after its last frame (the frames stay in the page cache).</summary>
    private void Unmap(SpoolSegment segment)
    {
        _view?.Dispose();
        _map?.Dispose();
        _view = null;
        _map = null;
        if (_activeHandle is { IsClosed: false } handle)
        {
            RandomAccess.SetLength(handle, segment.Length);
        }
    }

    /// <summary>
    /// Fsyncs the frames written so far: segments retired by a roll (then closed) and the active one (frames written
    /// through the mapping are dirty pages of the file, which its fsync writes). Safe to call from another thread than
    /// the write path's, while it keeps writing.
    /// </summary>
    public void SyncToDisk()
    {
        SyncStarting?.Invoke();
        lock (_syncLock)
        {
            foreach (var (retired, _) in _retired)
            {
                RandomAccess.FlushToDisk(retired);
                retired.Dispose();
            }

            _retired.Clear();
            if (_activeHandle is { IsClosed: false } handle)
            {
                RandomAccess.FlushToDisk(handle);
            }
        }
    }

    /// <summary>Unmaps, cuts, fsyncs and closes every segment file (write path only, at the end).</summary>
    public void CloseActive()
    {
        SpoolSegment? current;
        lock (_lock)
        {
            current = _segments.Count > 0 ? _segments[^1] : null;
        }

        if (_view is not null && current is not null)
        {
            Unmap(current);
        }

        SyncToDisk();
        lock (_syncLock)
        {
            _activeHandle?.Dispose();
            _activeHandle = null;
            _activePath = null;
        }
    }

    /// <summary>
    /// Deletes the active segment when it is the only one and holds frames (write path only, every frame in it
    /// acknowledged); the next append starts a new one. Cut after its last frame first, so a reader still holding the
    /// file reads to its end and moves on to the next segment.
    /// </summary>
    public bool DeleteActive()
    {
        SpoolSegment current;
        lock (_lock)
        {
            if (_segments.Count != 1 || _segments[0].Length == 0)
            {
                return false;
            }

            current = _segments[0];
        }

        Unmap(current);
        lock (_syncLock)
        {
            _activeHandle?.Dispose();
            _activeHandle = null;
            _activePath = null;
        }

        lock (_lock)
        {
            _segments.Clear();
            Interlocked.Add(ref _bytes, -current.Length);
            File.Delete(current.Path);
        }

        return true;
    }

    /// <summary>True when the file of a listed segment is not in the spool directory.</summary>
    public bool AnyFileMissing()
    {
        List<string> paths;
        lock (_lock)
        {
            paths = [.. _segments.Select(s => s.Path)];
        }

        return paths.Exists(path => !File.Exists(path));
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
        List<string>? deleted = null;
        lock (_lock)
        {
            // A segment's last sequence is one below the next segment's first; the active (last) one stays.
            while (_segments.Count > 1 && _segments[1].FirstSequence - 1 <= ackedSequence)
            {
                var segment = _segments[0];
                _segments.RemoveAt(0);
                Interlocked.Add(ref _bytes, -segment.Length);
                File.Delete(segment.Path);
                (deleted ??= []).Add(segment.Path);
            }
        }

        if (deleted is null)
        {
            return;
        }

        // A segment rolled over since the last fsync is still open, waiting for it; a deleted file held open keeps its
        // blocks. Appends that fail (a full disk) schedule no fsync, so the room the acknowledgement freed never came
        // back and the spool refused records until a restart. A deleted file needs no fsync.
        lock (_syncLock)
        {
            _retired.RemoveAll(retired =>
            {
                if (retired.Path is null || !deleted.Contains(retired.Path))
                {
                    return false;
                }

                retired.Handle.Dispose();
                return true;
            });
        }
    }

    /// <summary>
    /// Deletes an empty last segment whose name does not match the next sequence to write: appending to it would break
    /// the rule that a segment's name is the sequence of its first frame (a lone one after everything was acknowledged,
    /// or one whose only frames were a torn tail, whose sequences are not given out again).
    /// </summary>
    public void DeleteMisnamedEmpty(long nextSequence)
    {
        lock (_lock)
        {
            if (_segments.Count > 0 && _segments[^1].Length == 0 && _segments[^1].FirstSequence != nextSequence)
            {
                File.Delete(_segments[^1].Path);
                _segments.RemoveAt(_segments.Count - 1);
            }
        }
    }
}
