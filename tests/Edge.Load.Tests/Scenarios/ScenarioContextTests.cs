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

    [Fact]
    public async Task RunAsync_InvocationWithSeveralSteps_GlobalBytesAreTheSumOfItsSteps()
    {
        // The whole invocation moved every step's bytes; the global row carried only the returned (last) step's, so the
        // global bytes did not add up to the steps', and an invocation that threw after a step reported 0 bytes.
        var scenario = Edge.Load.Scenarios.Scenario.Create("two", async ctx =>
            {
                await ctx.Step("first", () => Task.FromResult(Response.Ok("200", 100)));
                if (ctx.InvocationNumber % 2 == 1)
                {
                    throw new InvalidOperationException("after the first step");
                }

                return await ctx.Step("second", () => Task.FromResult(Response.Fail("500", 10)));
            })
            .WithLoadSimulations(Edge.Load.Simulations.Simulation.Inject(10, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));

        var report = await Edge.Load.Running.LoadTest.RunAsync([scenario], new Edge.Load.Running.LoadTestOptions(), [Edge.Load.Thresholds.Threshold.Parse("fail% <= 100")]);

        var result = report.Scenarios[0];
        Assert.Equal(10, result.Global.Fail.Count);
        Assert.Equal(result.Steps.Skip(1).Sum(static s => s.Ok.Bytes + s.Fail.Bytes), result.Global.Ok.Bytes + result.Global.Fail.Bytes);
        Assert.Equal((5 * 110) + (5 * 100), result.Global.Fail.Bytes);
    }

    [Fact]
    public async Task Step_RunStoppedDuringTheStep_IsCancelledNotException()
    {
        // Ctrl+C: the docs say requests in flight are 'cancelled' failures, and 'exception' means the scenario code threw;
        // a sub-step cut off by the stop was labelled 'exception', in the step row and, returned, in the global row.
        var stats = new ScenarioStats();
        using var stop = new CancellationTokenSource();
        var context = new ScenarioContext("s", 0, stats, stop.Token);

        var response = await context.Step("cut", async () =>
        {
            await stop.CancelAsync();
            stop.Token.ThrowIfCancellationRequested();
            return Response.Ok("200");
        });

        Assert.Equal("cancelled", response.StatusCode);
        var cut = stats.Step("cut").Fail;
        cut.DrainInterval();
        Assert.Equal("cancelled", Assert.Single(cut.StatusCodes()).Key);
    }
}
