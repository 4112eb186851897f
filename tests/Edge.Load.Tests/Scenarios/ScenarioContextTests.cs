using System.Diagnostics;
using Edge.Load.Scenarios;
using Edge.Load.Stats;

namespace Edge.Load.Tests.Scenarios;

public sealed class ScenarioContextTests
{
    [Fact]
    public async Task Step_OpenModelInvocationStartedLate_FirstStepMeasuredFromTheIntendedSendTime()
    {
        // An open-model invocation that starts 200 ms after its intended time (a late dispatch, a queued work item): the
        // whole invocation is measured from the intended time, and so must its first step be, or the step's p99 hides the delay.
        var stats = new ScenarioStats();
        var intended = Stopwatch.GetTimestamp() - (Stopwatch.Frequency / 5);
        var context = new ScenarioContext("s", 0, stats, CancellationToken.None, intended);

        await context.Step("first", () => Task.FromResult(Response.Ok("200")));
        await context.Step("second", () => Task.FromResult(Response.Ok("200")));

        var first = stats.Step("first").Ok;
        var second = stats.Step("second").Ok;
        first.DrainInterval();
        second.DrainInterval();
        Assert.Equal(1, first.Count);
        Assert.True(first.MinMicros >= 200_000, $"first step {first.MinMicros} µs hides the 200 ms since its intended send time");
        Assert.Equal(1, second.Count);
    }

    [Fact]
    public async Task Step_CompletingAfterTheRunWasClosed_NotCountedAnywhereSoTheStepStillAddsUp()
    {
        // An invocation that outlived the drain is already an 'unfinished' failure of the whole scenario; its late step
        // landed in the step's status codes and bytes but not in its (already drained) count.
        var stats = new ScenarioStats();
        var context = new ScenarioContext("s", 0, stats, CancellationToken.None);
        stats.Started();
        stats.Close(waitedTicks: 0);
        stats.Sample(1);

        await context.Step("late", () => Task.FromResult(Response.Ok("200", 100)));

        var late = ReportBuilder.Step(stats.Step("late"), seconds: 1);
        Assert.Equal(0, late.Ok.Count);
        Assert.Empty(late.Ok.StatusCodes);
        Assert.Equal(0, late.Ok.Bytes);
        Assert.Equal(1, stats.Global.Fail.Count);
    }
}
