using Microsoft.Win32.SafeHandles;

namespace Edge.Audit.Spool;

/// <summary>A reader position in the spool; owned by one reader (the shipper).</summary>
public sealed class SpoolCursor : IDisposable
{
    // Read-ahead: frames are read from a 256 KiB window, not with two syscalls each. Bytes of whole frames in a segment
    // never change (append-only), so a window stays valid; a range past its end is simply read again. The window stops
    // at the frames the segment holds: the file of the active segment is longer (it is mapped at its full size), and
    // the zeros after its last frame are where the next frames go.
    private readonly byte[] _window = new byte[256 * 1024];
    private long _windowStart;
    private int _windowLength;
    private SpoolSegment? _segment;

    internal SpoolCursor(long nextSequence) => NextSequence = nextSequence;

    public long NextSequence { get; internal set; }

    internal SafeFileHandle? Handle { get; private set; }

    internal long SegmentFirst { get; private set; }

    internal long Offset { get; set; }

    /// <summary>The segment read now was found damaged at start: its frames' checksums are checked.</summary>
    internal bool SegmentDamaged => _segment?.Damaged == true;

    /// <summary>
    /// Moves the offset past a damaged range the start found in this segment (<see cref="SpoolSegment.Skips"/>) when one
    /// starts at it; false when none does.
    /// </summary>
    internal bool SkipDamaged()
    {
        if (_segment is not { Damaged: true } segment)
        {
            return false;
        }

        foreach (var skip in segment.Skips)
        {
            if (skip.Offset == Offset)
            {
                Offset = skip.End;
                return true;
            }
        }

        return false;
    }

    public void Dispose() => Close();

    internal int ReadAt(long offset, Span<byte> destination)
    {
        if (offset >= _windowStart && offset + destination.Length <= _windowStart + _windowLength)
        {
            _window.AsSpan((int)(offset - _windowStart), destination.Length).CopyTo(destination);
            return destination.Length;
        }

        // Read after the durable sequence the caller checked, which the write path publishes after counting the frame.
        var written = (int)Math.Clamp(Volatile.Read(ref _segment!.Length) - offset, 0, int.MaxValue);
        if (destination.Length > _window.Length)
        {
            return RandomAccess.Read(Handle!, destination[..Math.Min(destination.Length, written)], offset);
        }

        _windowStart = offset;
        _windowLength = RandomAccess.Read(Handle!, _window.AsSpan(0, Math.Min(_window.Length, written)), offset);
        var count = Math.Min(_windowLength, destination.Length);
        _window.AsSpan(0, count).CopyTo(destination);
        return count;
    }

    internal bool Seek(SpoolSegment? segment)
    {
        _windowLength = 0;
        if (segment is null)
        {
            return false;
        }

        try
        {
            Handle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return false;
        }

        _segment = segment;
        SegmentFirst = segment.FirstSequence;
        Offset = 0;
        return true;
    }

    internal void Close()
    {
        _windowLength = 0;
        Handle?.Dispose();
        Handle = null;
    }
}
