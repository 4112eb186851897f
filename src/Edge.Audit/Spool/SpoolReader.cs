namespace Edge.Audit.Spool;

/// <summary>
/// Reads durable records in sequence order through a <see cref="SpoolCursor"/>, moving from segment to segment, and
/// never past the durable sequence: what it returns is what the writer loop completed.
/// </summary>
internal sealed class SpoolReader(SpoolSegmentSet segments)
{
    /// <summary>Reads records above the cursor up to <paramref name="durableSequence"/>, advancing the cursor.</summary>
    public List<SpooledRecord> Read(SpoolCursor cursor, long durableSequence, int maxRecords, int maxBytes)
    {
        var result = new List<SpooledRecord>();
        var bytes = 0;
        Span<byte> header = stackalloc byte[SpoolFrame.HeaderSize];
        while (result.Count < maxRecords && bytes < maxBytes && cursor.NextSequence <= durableSequence)
        {
            if (cursor.Handle is null && !cursor.Seek(segments.Find(cursor.NextSequence)))
            {
                break;
            }

            if (cursor.ReadAt(cursor.Offset, header) < SpoolFrame.HeaderSize)
            {
                // End of this segment: move on only when a later one exists, else stay at the tail.
                var nextSegment = segments.FindAfter(cursor.SegmentFirst);
                if (nextSegment is null)
                {
                    break;
                }

                cursor.Close();
                if (!cursor.Seek(nextSegment))
                {
                    break;
                }

                continue;
            }

            if (!SpoolFrame.TryReadHeader(header, out var length, out var sequence, out var unixMs, out _))
            {
                throw new InvalidDataException($"Corrupt spool frame in segment {cursor.SegmentFirst} at offset {cursor.Offset}.");
            }

            if (sequence > durableSequence)
            {
                break;
            }

            var payload = new byte[length];
            if (cursor.ReadAt(cursor.Offset + SpoolFrame.HeaderSize, payload) < length)
            {
                throw new InvalidDataException($"Truncated spool frame in segment {cursor.SegmentFirst} at offset {cursor.Offset}.");
            }

            cursor.Offset += SpoolFrame.HeaderSize + length;
            if (sequence < cursor.NextSequence)
            {
                continue;
            }

            cursor.NextSequence = sequence + 1;
            result.Add(new SpooledRecord(sequence, DateTimeOffset.FromUnixTimeMilliseconds(unixMs), payload));
            bytes += length;
        }

        return result;
    }
}
