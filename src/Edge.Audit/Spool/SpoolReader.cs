using System.Buffers;

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
        while (result.Count < maxRecords && bytes < maxBytes
               && TryNextFrame(cursor, durableSequence, out var length, out var sequence, out var unixMs, out var checksum))
        {
            var payload = new byte[length];
            ReadPayload(cursor, sequence, unixMs, checksum, payload);
            result.Add(new SpooledRecord(sequence, DateTimeOffset.FromUnixTimeMilliseconds(unixMs), payload));
            bytes += length;
        }

        return result;
    }

    /// <summary>
    /// Reads records above the cursor up to <paramref name="durableSequence"/> straight into <paramref name="body"/>, each
    /// payload followed by a newline (the writer's NDJSON ingest body), advancing the cursor: one copy from the file
    /// window into the body, no array per record.
    /// </summary>
    /// <remarks>
    /// A frame that does not read back (<see cref="InvalidDataException"/>, <see cref="IOException"/>) ends the batch
    /// before it, with the cursor left at it, so the records before it still ship; a batch that would start with it
    /// throws.
    /// </remarks>
    public SpoolBatch ReadBatch(SpoolCursor cursor, long durableSequence, int maxRecords, int maxBytes, IBufferWriter<byte> body)
    {
        var count = 0;
        var bytes = 0;
        long last = 0;
        while (count < maxRecords && bytes < maxBytes)
        {
            int length;
            long sequence;
            Span<byte> destination;
            try
            {
                if (!TryNextFrame(cursor, durableSequence, out length, out sequence, out var unixMs, out var checksum))
                {
                    break;
                }

                destination = body.GetSpan(length + 1);
                ReadPayload(cursor, sequence, unixMs, checksum, destination[..length]);
            }
            catch (Exception exception) when (count > 0 && exception is InvalidDataException or IOException)
            {
                break;
            }

            destination[length] = (byte)'\n';
            body.Advance(length + 1);
            count++;
            bytes += length;
            last = sequence;
        }

        return new SpoolBatch(count, last);
    }

    /// <summary>
    /// Moves the cursor onto the next durable frame above its sequence (skipping frames below it, crossing segments)
    /// and returns its header; false at the tail. The cursor's offset is left at the frame's start. Throws
    /// <see cref="InvalidDataException"/> at a frame that does not read back and at a gap in the sequence that the start
    /// did not find (<see cref="SpoolSegmentSet.IsKnownLost"/>), leaving the cursor before it. Damaged ranges the start
    /// found (<see cref="SpoolSegment.Skips"/>) are jumped over.
    /// </summary>
    private bool TryNextFrame(SpoolCursor cursor, long durableSequence, out int length, out long sequence, out long unixMs, out uint checksum)
    {
        Span<byte> header = stackalloc byte[SpoolFrame.HeaderSize];
        length = 0;
        sequence = 0;
        unixMs = 0;
        checksum = 0;
        while (cursor.NextSequence <= durableSequence)
        {
            if (cursor.Handle is null)
            {
                var segment = segments.Find(cursor.NextSequence);
                if (segment is null)
                {
                    return false;
                }

                if (!cursor.Seek(segment))
                {
                    throw Missing(segment, cursor);
                }
            }

            if (cursor.SkipDamaged())
            {
                continue;
            }

            if (cursor.ReadAt(cursor.Offset, header) < SpoolFrame.HeaderSize)
            {
                // End of this segment: move on only when a later one exists, else stay at the tail.
                var nextSegment = segments.FindAfter(cursor.SegmentFirst);
                if (nextSegment is null)
                {
                    return false;
                }

                cursor.Close();
                if (!cursor.Seek(nextSegment))
                {
                    throw Missing(nextSegment, cursor);
                }

                continue;
            }

            if (!SpoolFrame.TryReadHeader(header, out length, out sequence, out unixMs, out checksum))
            {
                throw new InvalidDataException($"Corrupt spool frame in segment {cursor.SegmentFirst} at offset {cursor.Offset}.");
            }

            // Sequences are written without a gap, so a frame above the next one expected means records are missing: the
            // segment before this one ended early (cut or replaced from outside while the edge runs) or frames went
            // missing inside one. Moving on would acknowledge the missing records past, with no trace of them. Only records
            // the start already found missing, and reported as lost, are read past (damaged frames, a segment moved out
            // with the edge stopped, a torn tail).
            if (sequence > cursor.NextSequence && !segments.IsKnownLost(cursor.NextSequence, sequence - 1))
            {
                throw new InvalidDataException(
                    $"Spool frame {sequence} in segment {cursor.SegmentFirst} at offset {cursor.Offset} follows a gap: sequence {cursor.NextSequence} was " +
                    $"expected (the segment before it ended early, or frames are missing in it); records {cursor.NextSequence} to {sequence - 1} are not in the spool.");
            }

            if (sequence > durableSequence)
            {
                return false;
            }

            if (sequence < cursor.NextSequence)
            {
                cursor.Offset += SpoolFrame.HeaderSize + length;
                continue;
            }

            return true;
        }

        return false;
    }

    /// <summary>
    /// A listed segment whose file is gone. The spool deletes only segments the writer acknowledged, which the cursor is
    /// past, so this one was moved or deleted from outside while the edge runs, with records in it never shipped. Before,
    /// the reader answered "nothing more" for good, and shipping stopped without a log line.
    /// </summary>
    private static InvalidDataException Missing(SpoolSegment segment, SpoolCursor cursor) =>
        new($"Spool segment {segment.FirstSequence} is missing from the spool directory ({segment.Path}): sequence {cursor.NextSequence} was expected next.");

    /// <summary>Copies the payload of the frame at the cursor's offset and moves the cursor past it.</summary>
    private static void ReadPayload(SpoolCursor cursor, long sequence, long unixMs, uint checksum, Span<byte> destination)
    {
        if (cursor.ReadAt(cursor.Offset + SpoolFrame.HeaderSize, destination) < destination.Length)
        {
            throw new InvalidDataException($"Truncated spool frame in segment {cursor.SegmentFirst} at offset {cursor.Offset}.");
        }

        // Only in a segment the start found damaged: frames written by this process are read back from the page cache
        // they were just copied to, and a checksum per record would cost the shipper for nothing.
        if (cursor.SegmentDamaged)
        {
            Span<byte> sequenceAndTime = stackalloc byte[16];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(sequenceAndTime, sequence);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(sequenceAndTime[8..], unixMs);
            if (SpoolFrame.Checksum(sequenceAndTime, destination) != checksum)
            {
                throw new InvalidDataException($"Spool frame {sequence} in segment {cursor.SegmentFirst} at offset {cursor.Offset} does not match its checksum.");
            }
        }

        cursor.Offset += SpoolFrame.HeaderSize + destination.Length;
        cursor.NextSequence = sequence + 1;
    }
}
