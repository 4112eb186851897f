using System.Globalization;
using System.Text;
using System.Text.Json;
using Edge.Audit.Records;

namespace Edge.Audit.Verification;

/// <summary>
/// Which records explain a pruned one. The writer prunes a record only in a transaction that also appends a record naming
/// it: a retention batch (<see cref="AuditEventTypes.RetentionApplied"/>, decision <c>pruned</c>) or an erasure that pruned
/// v1 records (<see cref="AuditEventTypes.SubjectErased"/>), each with the attribute <see cref="IndicesAttribute"/> holding
/// the indices as ascending ranges (<c>"0-4999,5120,5200-5300"</c>). A pruned record no such record names was pruned
/// outside the writer (by hand in the store, or by a tool), which a verifier must report: the leaf hash alone cannot tell
/// a deletion by policy from tampering. Records written before per-batch records existed (a retention record without
/// <see cref="BatchesAttribute"/>, an erasure record without <see cref="PrunedAttribute"/>) named no indices: a pruned
/// record older than the newest such record is counted as pruned by an earlier writer, not as uncovered.
/// </summary>
public static class PruneCoverage
{
    /// <summary>Attribute of a covering record: the indices it pruned, as ascending ranges.</summary>
    public const string IndicesAttribute = "prunedIndices";

    /// <summary>Attribute of a PostgreSQL retention batch record: the ids of the subjects whose data keys it shredded, as ranges.</summary>
    public const string ShreddedSubjectsAttribute = "shreddedSubjects";

    /// <summary>Attribute of a PostgreSQL erasure record: the ids of the subjects whose data keys it deleted, as ranges.</summary>
    public const string ErasedSubjectsAttribute = "erasedSubjects";

    /// <summary>Attribute of a retention run's closing record: how many batch records the run wrote (absent before them).</summary>
    public const string BatchesAttribute = "batches";

    /// <summary>Attribute of an erasure record: how many v1 records it pruned (absent before per-batch records).</summary>
    public const string PrunedAttribute = "pruned";

    /// <summary>The writer's records begin <c>{"specversion":"1.0","id":"&lt;36-character UUID&gt;</c>; the source and type follow at this 1-based offset.</summary>
    public const int WriterMarkerOffset = 64;

    /// <summary>The bytes at <see cref="WriterMarkerOffset"/> of a writer record of <paramref name="type"/> (ingest refuses these types from edges).</summary>
    public static byte[] WriterMarker(string type) => Encoding.UTF8.GetBytes($"\",\"source\":\"edge://audit-writer\",\"type\":\"{type}\"");

    /// <summary>The member name and opening quote of <see cref="IndicesAttribute"/> as it appears in a leaf.</summary>
    public static byte[] IndicesMember { get; } = Encoding.UTF8.GetBytes($"\"{IndicesAttribute}\":\"");

    private static readonly byte[] s_retentionType = Encoding.UTF8.GetBytes($"\"type\":\"{AuditEventTypes.RetentionApplied}\"");
    private static readonly byte[] s_erasureType = Encoding.UTF8.GetBytes($"\"type\":\"{AuditEventTypes.SubjectErased}\"");

    /// <summary>Ascending, distinct indices as ranges: <c>1-3,7,9-10</c>.</summary>
    public static string Format(IReadOnlyList<long> sorted)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        var text = new StringBuilder();
        for (var i = 0; i < sorted.Count;)
        {
            var start = sorted[i];
            var end = start;
            while (i + 1 < sorted.Count && sorted[i + 1] == end + 1)
            {
                end = sorted[++i];
            }

            i++;
            if (text.Length > 0)
            {
                text.Append(',');
            }

            text.Append(start.ToString(CultureInfo.InvariantCulture));
            if (end != start)
            {
                text.Append('-').Append(end.ToString(CultureInfo.InvariantCulture));
            }
        }

        return text.ToString();
    }

    /// <summary>Parses <see cref="Format"/>'s ranges; false for anything else.</summary>
    public static bool TryParse(string text, List<(long Start, long End)> ranges)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(ranges);
        if (text.Length == 0)
        {
            return true;
        }

        foreach (var part in text.Split(','))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                if (!long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var single))
                {
                    return false;
                }

                ranges.Add((single, single));
            }
            else if (long.TryParse(part.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                && long.TryParse(part.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var end) && start <= end)
            {
                ranges.Add((start, end));
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Collects, over a log read in index order, the pruned indices and what covers them.</summary>
    public sealed class Tracker
    {
        private readonly List<long> _pruned = [];
        private readonly List<(long Start, long End)> _covered = [];
        private readonly List<(long Start, long End)> _coveredSubjects = [];
        private long _legacyBefore = -1;

        /// <summary>A record present only as its leaf hash.</summary>
        public void Pruned(long index) => _pruned.Add(index);

        private readonly List<(long Start, long End)> _coveredUnchecked = [];

        /// <summary>
        /// An export line after the checkpoint's size: no signed root covers it, so the indices it names are counted in
        /// <see cref="NamedOnlyUnchecked"/> rather than trusted. A retention batch always comes after the records it
        /// prunes, so an export read against a checkpoint fetched just before it holds such lines.
        /// </summary>
        public void RecordUnchecked(long index, ReadOnlySpan<byte> leaf)
        {
            var covered = _covered.Count;
            Record(index, leaf);
            _coveredUnchecked.AddRange(_covered.Skip(covered));
            _covered.RemoveRange(covered, _covered.Count - covered);
        }

        /// <summary>Pruned records named only by a line after the checkpoint's size (not checked).</summary>
        public long NamedOnlyUnchecked { get; private set; }

        /// <summary>A record with its bytes: if it is a writer record that names pruned indices, they are covered.</summary>
        public void Record(long index, ReadOnlySpan<byte> leaf)
        {
            var retention = leaf.IndexOf(s_retentionType) >= 0;
            if (!retention && leaf.IndexOf(s_erasureType) < 0)
            {
                return;
            }

            try
            {
                var reader = new Utf8JsonReader(leaf);
                using var document = JsonDocument.ParseValue(ref reader);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                    || !root.TryGetProperty("source", out var source) || !source.ValueEquals("edge://audit-writer")
                    || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
                {
                    return;
                }

                var isRetention = type.ValueEquals(AuditEventTypes.RetentionApplied);
                if (!isRetention && !type.ValueEquals(AuditEventTypes.SubjectErased))
                {
                    return;
                }

                var attributes = data.TryGetProperty("attributes", out var a) && a.ValueKind == JsonValueKind.Object ? a : default;
                string? Attribute(string name) => attributes.ValueKind == JsonValueKind.Object && attributes.TryGetProperty(name, out var value)
                    && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
                // Malformed ranges cover nothing: what they would name then shows up as uncovered.
                var named = false;
                foreach (var (name, target) in new[] { (IndicesAttribute, _covered), (ShreddedSubjectsAttribute, _coveredSubjects), (ErasedSubjectsAttribute, _coveredSubjects) })
                {
                    if (Attribute(name) is { } ranges)
                    {
                        named = true;
                        var parsed = new List<(long, long)>();
                        if (TryParse(ranges, parsed))
                        {
                            target.AddRange(parsed);
                        }
                    }
                }

                if (!named && (isRetention ? Attribute(BatchesAttribute) is null : Attribute(PrunedAttribute) is null))
                {
                    _legacyBefore = index;
                }
            }
            catch (JsonException)
            {
            }
        }

        /// <summary>Pruned records an earlier writer pruned before it wrote per-batch records (older than its last such record).</summary>
        public long Unattributed { get; private set; }

        /// <summary>
        /// The first subject (PostgreSQL: records keep their subject id after its key is gone) whose key no retention
        /// batch or erasure record says it deleted, or null. One whose newest record precedes an earlier writer's last
        /// record that named nothing counts as <see cref="Unattributed"/>.
        /// </summary>
        public (long SubjectId, long LastIndex)? FirstUnexplainedKeyless(IReadOnlyList<(long SubjectId, long LastIndex)> keyless)
        {
            ArgumentNullException.ThrowIfNull(keyless);
            foreach (var subject in keyless)
            {
                if (_coveredSubjects.Any(r => r.Start <= subject.SubjectId && subject.SubjectId <= r.End))
                {
                    continue;
                }

                if (subject.LastIndex < _legacyBefore)
                {
                    Unattributed++;
                    continue;
                }

                return subject;
            }

            return null;
        }

        /// <summary>The first pruned index no record covers, or null when every one is covered.</summary>
        public long? FirstUncovered()
        {
            _covered.Sort();
            var c = 0;
            Unattributed = 0;
            NamedOnlyUnchecked = 0;
            foreach (var index in _pruned)
            {
                while (c < _covered.Count && _covered[c].End < index)
                {
                    c++;
                }

                if (c < _covered.Count && _covered[c].Start <= index)
                {
                    continue;
                }

                // Overlapping ranges (two records naming one index): a later range may start before this index.
                if (_covered.Skip(c).TakeWhile(r => r.Start <= index).Any(r => r.End >= index))
                {
                    continue;
                }

                if (index < _legacyBefore)
                {
                    Unattributed++;
                    continue;
                }

                if (_coveredUnchecked.Any(r => r.Start <= index && index <= r.End))
                {
                    NamedOnlyUnchecked++;
                    continue;
                }

                return index;
            }

            return null;
        }
    }
}
