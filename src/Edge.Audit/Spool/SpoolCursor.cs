using Microsoft.Win32.SafeHandles;

namespace Edge.Audit.Spool;

/// <summary>A reader position in the spool; owned by one reader (the shipper).</summary>
public sealed class SpoolCursor : IDisposable
{
    // Read-ahead: frames are read from a 256 KiB window, not with two syscalls each. Bytes already in a segment never
    // change (append-only), so a window stays valid; a range past its end is simply read again.
    private readonly byte[] _window = new byte[256 * 1024];
    private long _windowStart;
    private int _windowLength;

    internal SpoolCursor(long nextSequence) => NextSequence = nextSequence;

    public long NextSequence { get; internal set; }

    internal SafeFileHandle? Handle { get; private set; }

    internal long SegmentFirst { get; private set; }

    internal long Offset { get; set; }

    public void Dispose() => Close();

    internal int ReadAt(long offset, Span<byte> destination)
    {
        if (offset >= _windowStart && offset + destination.Length <= _windowStart + _windowLength)
        {
            _window.AsSpan((int)(offset - _windowStart), destination.Length).CopyTo(destination);
            return destination.Length;
        }

        if (destination.Length > _window.Length)
        {
            return RandomAccess.Read(Handle!, destination, offset);
        }

        _windowStart = offset;
        _windowLength = RandomAccess.Read(Handle!, _window, offset);
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
