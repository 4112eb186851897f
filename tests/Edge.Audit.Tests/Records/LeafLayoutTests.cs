using System.Text;
using Edge.Audit.Records;

namespace Edge.Audit.Tests.Records;

public sealed class LeafLayoutTests
{
    [Fact]
    public void Of_WritersOwnRecordType_ReadsTheLayoutIngestWouldRefuse()
    {
        // The writer protects its own records (subject.erased, retention.applied) with the layout read here; ingest refuses those types.
        var leaf = AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = "erased-1",
            Type = AuditEventTypes.SubjectErased,
            Time = new DateTimeOffset(2026, 12, 4, 10, 0, 0, TimeSpan.Zero),
            Instance = "writer",
            Decision = "erased",
            Subject = new AuditSubject { ClientIp = "203.0.113.9" },
        });
        Assert.Null(LeafSummary.TryParse(leaf, out _, out _));

        var layout = Assert.NotNull(LeafLayout.Of(leaf));

        Assert.Equal("203.0.113.9", layout.ClientIp);
        Assert.Equal(leaf.Length - 1, layout.RootEnd);
        Assert.Equal("""{"protection":"none","clientIp":"203.0.113.9"}""", Encoding.UTF8.GetString(leaf, layout.SubjectStart, layout.SubjectLength));
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("{\"a\":")]
    [InlineData("{\"a\":1,\"a\":2}")]
    public void Of_NotOneJsonObject_ReturnsNull(string text)
    {
        Assert.Null(LeafLayout.Of(Encoding.UTF8.GetBytes(text)));
    }
}
