using Edge.Audit.Records;
using Edge.Audit.Verification;

namespace Edge.Audit.Tests.Verification;

public sealed class PruneCoverageTests
{
    private static byte[] WriterRecord(string type, string decision, Dictionary<string, string> attributes) =>
        AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = Guid.CreateVersion7().ToString(),
            Type = type,
            Time = DateTimeOffset.UtcNow,
            Instance = "audit-writer",
            Decision = decision,
            Step = "retention",
            Attributes = attributes,
            Subject = new AuditSubject(),
        });

    [Fact]
    public void Format_IndicesWithRuns_RangesThatParseBack()
    {
        var text = PruneCoverage.Format([0, 1, 2, 5, 7, 8, 100]);
        var ranges = new List<(long, long)>();

        Assert.Equal("0-2,5,7-8,100", text);
        Assert.True(PruneCoverage.TryParse(text, ranges));
        Assert.Equal([(0L, 2L), (5L, 5L), (7L, 8L), (100L, 100L)], ranges);
    }

    [Theory]
    [InlineData("1-")]
    [InlineData("3-1")]
    [InlineData("-1")]
    [InlineData("1,,2")]
    [InlineData("a")]
    public void TryParse_NotRanges_False(string text) => Assert.False(PruneCoverage.TryParse(text, []));

    [Fact]
    public void WriterMarker_AtItsOffsetInAWriterRecord()
    {
        // The SQLite store keeps records that name pruned indices by matching these bytes at this offset.
        var leaf = WriterRecord(AuditEventTypes.RetentionApplied, "pruned", new() { ["prunedIndices"] = "1" });
        var marker = PruneCoverage.WriterMarker(AuditEventTypes.RetentionApplied);

        Assert.Equal(marker, leaf.AsSpan(PruneCoverage.WriterMarkerOffset - 1, marker.Length).ToArray());
    }

    [Fact]
    public void FirstUncovered_PrunedIndexNamedOnlyByAnEdgeRecordOfThatShape_ReportsIt()
    {
        // Only the writer's records explain a prune: an edge's record carrying the same attribute names nothing.
        var tracker = new PruneCoverage.Tracker();
        tracker.Pruned(0);
        var forged = AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = "edge-record",
            Type = AuditEventTypes.RetentionApplied,
            Time = DateTimeOffset.UtcNow,
            Instance = "edge-1",
            Decision = "pruned",
            Attributes = new Dictionary<string, string> { ["prunedIndices"] = "0" },
            Subject = new AuditSubject(),
        });
        tracker.Record(1, forged);

        Assert.Equal(0, tracker.FirstUncovered());
    }

    [Fact]
    public void FirstUncovered_PrunedBeforeALegacyRetentionRecord_AcceptedAsUnattributedButNotAfterIt()
    {
        // A writer before per-batch records wrote one record per run with a count only: what it pruned is accepted, but
        // counted apart, and a prune after its last record is uncovered.
        var tracker = new PruneCoverage.Tracker();
        tracker.Pruned(0);
        tracker.Pruned(1);
        tracker.Record(2, WriterRecord(AuditEventTypes.RetentionApplied, "applied", new() { ["pruned"] = "2", ["subjectsShredded"] = "0" }));
        tracker.Pruned(3);
        tracker.Record(4, WriterRecord(AuditEventTypes.RetentionApplied, "applied", new() { ["pruned"] = "0", ["batches"] = "0" }));

        Assert.Equal(3, tracker.FirstUncovered());
        Assert.Equal(2, tracker.Unattributed);
    }

    [Fact]
    public void FirstUncovered_PruneNamedOnlyByALineAfterTheCheckpoint_CountedAsUncheckedNotTrusted()
    {
        // An export read against a checkpoint fetched just before a retention batch: the batch line lies past the
        // checkpoint's size. It is not checked, so it is counted apart; without it the prune is uncovered.
        var tracker = new PruneCoverage.Tracker();
        tracker.Pruned(0);
        tracker.RecordUnchecked(5, WriterRecord(AuditEventTypes.RetentionApplied, "pruned", new() { ["prunedIndices"] = "0", ["pruned"] = "1" }));
        var without = new PruneCoverage.Tracker();
        without.Pruned(0);

        Assert.Null(tracker.FirstUncovered());
        Assert.Equal(1, tracker.NamedOnlyUnchecked);
        Assert.Equal(0, without.FirstUncovered());
    }

    [Fact]
    public void FirstUncovered_EveryPruneNamedByBatchOrErasureRecords_Null()
    {
        var tracker = new PruneCoverage.Tracker();
        foreach (var index in new long[] { 0, 1, 2, 4, 6 })
        {
            tracker.Pruned(index);
        }

        tracker.Record(7, WriterRecord(AuditEventTypes.RetentionApplied, "pruned", new() { ["prunedIndices"] = "0-2,6", ["pruned"] = "4" }));
        tracker.Record(8, WriterRecord(AuditEventTypes.SubjectErased, "erased", new() { ["prunedIndices"] = "1-4", ["pruned"] = "1" }));

        Assert.Null(tracker.FirstUncovered());
        Assert.Equal(0, tracker.Unattributed);
    }
}
