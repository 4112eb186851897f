using System.Text.Json;
using Edge.Audit.Records;
using Edge.Audit.Storage;

namespace Edge.AuditWriter.Api;

/// <summary>
/// The <c>from</c>/<c>to</c> window at the precision of a record's own <c>time</c> (100 ns, as its leaf, the list and
/// the CSV show it), while the stores index times to the millisecond. The store is asked for the whole milliseconds the
/// window touches; the records of a bound's own millisecond are then decided by their exact time. Before, both bounds
/// were cut to the millisecond: <c>from=10:00:00.1239999Z</c> listed a record of 10:00:00.1234567, and
/// <c>to=10:00:00.1234568Z</c> left it out.
/// </summary>
internal readonly record struct TimeWindow(DateTimeOffset? From, DateTimeOffset? To)
{
    public static TimeWindow Of(RecordQuery query) => new(query.From, query.To);

    /// <summary>The query the store runs: <c>to</c> rounded up to its next millisecond (the store cuts <c>from</c> down itself).</summary>
    public RecordQuery Widen(RecordQuery query)
    {
        if (To is not { } to || SubMillisecond(to) == 0)
        {
            return query;
        }

        // In UTC: 23:59:59.9995+14:00 on 9999-12-31 has no next millisecond in its own offset. The calendar's last
        // millisecond has none at all; the store then gets no upper bound and the exact check alone applies it.
        var up = TimeSpan.TicksPerMillisecond - SubMillisecond(to);
        return query with { To = to.UtcTicks <= DateTimeOffset.MaxValue.UtcTicks - up ? to.ToUniversalTime().AddTicks(up) : null };
    }

    /// <summary>Whether a record the widened query returned is in the window; only a bound's own millisecond needs its exact time.</summary>
    public bool Contains(StoredRecord record)
    {
        var from = From is { } f && SubMillisecond(f) != 0 ? f : (DateTimeOffset?)null;
        var to = To is { } t && SubMillisecond(t) != 0 ? t : (DateTimeOffset?)null;
        if ((from is null || record.Time.UtcTicks != Millisecond(from.Value)) && (to is null || record.Time.UtcTicks != Millisecond(to.Value)))
        {
            return true;
        }

        var time = RecordTime.Of(record);
        return (from is null || time >= from) && (to is null || time < to);
    }

    private static long SubMillisecond(DateTimeOffset time) => time.UtcTicks % TimeSpan.TicksPerMillisecond;

    private static long Millisecond(DateTimeOffset time) => time.UtcTicks - SubMillisecond(time);
}

/// <summary>A record's time as it carries it: its leaf's <c>time</c>; a pruned record keeps only the store's millisecond.</summary>
internal static class RecordTime
{
    public static DateTimeOffset Of(StoredRecord record) => !record.Pruned && TryRead(record.Leaf) is { } time ? time : record.Time;

    /// <summary>The envelope's <c>time</c>, read up to it and no further (it comes before <c>data</c>).</summary>
    private static DateTimeOffset? TryRead(byte[] leaf)
    {
        try
        {
            var reader = new Utf8JsonReader(leaf);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isTime = reader.ValueTextEquals("time"u8);
                if (!reader.Read())
                {
                    return null;
                }

                if (isTime)
                {
                    return reader.TokenType == JsonTokenType.String && Rfc3339.TryParseDateTime(reader.GetString(), out var time) ? time : null;
                }

                reader.Skip();
            }

            return null;
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            // A string that cannot be decoded; such a leaf keeps the store's millisecond.
            return null;
        }
    }

    /// <summary>UTC, seven fraction digits, as every view of a record writes it.</summary>
    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
}
