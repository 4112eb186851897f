using Edge.Proxy.Observability;

namespace Edge.Proxy.Tests.Observability;

public sealed class EdgeTraceContextTests
{
    private const string Incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public void Start_ValidTraceParent_KeepsTraceIdAndFlagsWithANewParentId()
    {
        var trace = EdgeTraceContext.Start(Incoming, out var traceParent);

        Assert.Equal("0af7651916cd43dd8448eb211c80319c", trace.TraceId.ToString());
        Assert.Same(traceParent, trace.TraceParent);
        Assert.Equal(EdgeTraceContext.TraceParentLength, traceParent.Length);
        Assert.StartsWith("00-0af7651916cd43dd8448eb211c80319c-", traceParent, StringComparison.Ordinal);
        Assert.EndsWith("-01", traceParent, StringComparison.Ordinal);
        Assert.NotEqual("b7ad6b7169203331", traceParent.Substring(36, 16));
        Assert.True(EdgeTraceContext.TryParse(traceParent, out var sent, out var flags));
        Assert.Equal(trace.TraceId.ToString(), sent.ToString());
        Assert.Equal(1, flags);
    }

    [Fact]
    public void Start_NoTraceParent_StartsATraceWithFlags00()
    {
        var first = EdgeTraceContext.Start(null, out var firstParent);
        var second = EdgeTraceContext.Start(null, out _);

        Assert.NotEqual(first.TraceId.ToString(), second.TraceId.ToString());
        Assert.NotEqual(first.TraceParent.Substring(36, 16), second.TraceParent.Substring(36, 16));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", firstParent);
        Assert.True(EdgeTraceContext.TryParse(firstParent, out _, out _));
        Assert.Equal(first.TraceId.ToString(), firstParent.Substring(3, 32));
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

        Assert.Equal("0af7651916cd43dd8448eb211c80319c", traceId.ToString());
        Assert.Equal(1, flags);
    }

    [Fact]
    public void Start_InvalidTraceParent_StartsANewTrace()
    {
        var trace = EdgeTraceContext.Start("00-00000000000000000000000000000000-b7ad6b7169203331-01", out var traceParent);

        Assert.NotEqual("00000000000000000000000000000000", trace.TraceId.ToString());
        Assert.True(EdgeTraceContext.TryParse(traceParent, out _, out _));
        Assert.EndsWith("-00", traceParent, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_ManyNewTraces_EveryHeaderValidAndEveryIdDistinct()
    {
        var traceIds = new HashSet<string>(StringComparer.Ordinal);
        var parentIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 2000; i++)
        {
            var trace = EdgeTraceContext.Start(i % 2 == 0 ? null : Incoming, out var traceParent);

            Assert.True(EdgeTraceContext.TryParse(traceParent, out _, out _), traceParent);
            Assert.True(parentIds.Add(traceParent.Substring(36, 16)), traceParent);
            if (i % 2 == 0)
            {
                Assert.True(traceIds.Add(trace.TraceId.ToString()), traceParent);
            }
        }
    }
}
