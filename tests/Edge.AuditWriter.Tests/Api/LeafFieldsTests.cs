using Edge.AuditWriter.Api;

namespace Edge.AuditWriter.Tests.Api;

public sealed class LeafFieldsTests
{
    [Fact]
    public void Read_RequestRecord_ReturnsMethodPathStatusStepAndExactTime()
    {
        var fields = LeafFields.Read("""{"time":"2026-12-06T10:00:00.1234567+01:00","data":{"method":"GET","path":"/a","status":403,"step":"EdgeRequire"}}"""u8.ToArray());

        Assert.Equal(new LeafFields("GET", "/a", 403, "EdgeRequire", new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero).AddTicks(1_234_567)), fields);
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { (byte)'\\', (byte)'u', (byte)'d', (byte)'8', (byte)'0', (byte)'0' })]
    public void Read_PathThatCannotBeDecoded_ReturnsNoFieldsInsteadOfThrowing(byte[] text)
    {
        // A store written before ingest refused such text may hold it; the CSV export reads every record through here.
        byte[] leaf = [.. "{\"data\":{\"method\":\"GET\",\"path\":\"/"u8, .. text, .. "\"}}"u8];

        var fields = LeafFields.Read(leaf);

        Assert.Equal(default, fields);
    }
}
