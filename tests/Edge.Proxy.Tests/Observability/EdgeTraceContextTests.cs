using Edge.Proxy.Observability;

namespace Edge.Proxy.Tests.Observability;

public sealed class EdgeTraceContextTests
{
    private const string Incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public void Start_ValidTraceParent_KeepsTraceIdAndFlagsWithANewParentId()
    {
        var trace = EdgeTraceContext.Start(Incoming, out var traceParent);

        Assert.Equal("0af7651916cd43dd8448eb211c80319c", trace.TraceId.ToHexString());
        Assert.Equal(EdgeTraceContext.TraceParentLength, traceParent.Length);
        Assert.StartsWith("00-0af7651916cd43dd8448eb211c80319c-", traceParent, StringComparison.Ordinal);
        Assert.EndsWith("-01", traceParent, StringComparison.Ordinal);
        Assert.NotEqual("b7ad6b7169203331", traceParent.Substring(36, 16));
        Assert.True(EdgeTraceContext.TryParse(traceParent, out var sent, out var flags));
        Assert.Equal(trace.TraceId, sent);
        Assert.Equal(1, flags);
    }

    [Fact]
    public void Start_NoTraceParent_StartsATraceWithFlags00()
    {
        var first = EdgeTraceContext.Start(null, out var firstParent);
        var second = EdgeTraceContext.Start(null, out _);

        Assert.NotEqual(first.TraceId, second.TraceId);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", firstParent);
        Assert.Equal(first.TraceId.ToHexString(), firstParent.Substring(3, 32));
    }

    [Theory]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01")] // all-zero trace id
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01")] // all-zero parent id
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")] // upper-case hex
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")] // forbidden version
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra")] // version 00 has exactly four fields
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01")] // short parent id
    [InlineData("00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01")] // wrong separators
    [InlineData("")]
    public void TryParse_InvalidTraceParent_ReturnsFalse(string value)
    {
        Assert.False(EdgeTraceContext.TryParse(value, out _, out _));
    }

    [Fact]
    public void TryParse_LaterVersionWithMoreFields_ReadsTheFirstFour()
    {
        Assert.True(EdgeTraceContext.TryParse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future", out var traceId, out var flags));

        Assert.Equal("0af7651916cd43dd8448eb211c80319c", traceId.ToHexString());
        Assert.Equal(1, flags);
    }

    [Fact]
    public void Start_InvalidTraceParent_StartsANewTrace()
    {
        var trace = EdgeTraceContext.Start("00-00000000000000000000000000000000-b7ad6b7169203331-01", out var traceParent);

        Assert.NotEqual("00000000000000000000000000000000", trace.TraceId.ToHexString());
        Assert.EndsWith("-00", traceParent, StringComparison.Ordinal);
    }
}
