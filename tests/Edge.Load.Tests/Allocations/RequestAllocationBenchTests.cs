using Edge.Load.Allocations;
using Edge.Load.Cli;

namespace Edge.Load.Tests.Allocations;

/// <summary>
/// The CI smoke of <c>edge-load request-alloc</c>: every target on real Kestrel listeners, a real redis-server and a
/// real audit writer process, a few dozen requests each. The shape is asserted, never the numbers (a shared machine).
/// </summary>
public sealed class RequestAllocationBenchTests
{
    [Fact]
    public async Task RunAsync_Smoke_MeasuresEveryTargetAndShipsEveryFullPipelineDecision()
    {
        var options = RequestAllocationOptions.Smoke;

        // The harness itself fails the run on a non-200 answer and when the writer's checkpoint does not cover every
        // full-pipeline request, so a returned row means every request was served (and, for edge-lease, audited).
        var rows = await RequestAllocationBench.RunAsync(options, TextWriter.Null, CancellationToken.None);

        Assert.Equal(RequestAllocationOptions.AllTargets, rows.Select(r => r.Target));
        Assert.All(rows, r =>
        {
            Assert.Equal(options.Requests, r.Requests);
            Assert.Equal(options.Rounds, r.BytesPerRequest.Count);
            Assert.All(r.BytesPerRequest, b => Assert.True(b > 0, $"{r.Target}: {b} bytes per request"));
        });
        var markdown = RequestAllocationReport.Markdown(options, rows, DateTimeOffset.UtcNow);
        Assert.Equal(2 + rows.Count, markdown.Split('\n').Count(l => l.StartsWith('|')));
        Assert.Contains("| bare YARP 2.3, the same route, no steps, no logging |", markdown, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--targets", "nginx")]
    [InlineData("--requests", "0")]
    [InlineData("--rounds", "-1")]
    [InlineData("--frobnicate", "1")]
    [InlineData("--warmup")]
    public async Task RunAsync_RequestAllocBadOption_ExitsTwoWithUsage(params string[] options)
    {
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(["request-alloc", .. options], TextWriter.Null, stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("Usage: edge-load request-alloc", stderr.ToString(), StringComparison.Ordinal);
    }
}
