using Edge.Load.Cli;
using Edge.Load.RateLimits;

namespace Edge.Load.Tests.RateLimits;

/// <summary>
/// The CI smoke of <c>edge-load ratelimit</c>: the whole harness against a redis-server it starts, a few seconds per
/// phase. Counts and the shape of the results are asserted, never timing (a shared machine).
/// </summary>
public sealed class RateLimitBenchTests
{
    [Fact]
    public async Task RunAsync_Smoke_MeasuresEveryRowAndTheBlackholeOnARealRedis()
    {
        var progress = new StringWriter();

        var (rows, blackholes) = await RateLimitBench.RunAsync(RateLimitBenchOptions.Smoke, progress, CancellationToken.None);

        Assert.Equal(["strict/1", "strict/100", "lease/1", "lease/100"], rows.Select(r => $"{r.Mode}/{r.Keys}"));
        Assert.All(rows, r =>
        {
            Assert.Equal(("single", 2), (r.Redis, r.Instances));
            Assert.True(r.Decisions > 0 && r.Saturation > 0 && r.OpenRate > 0, RateLimitBenchReport.Line(r));
            Assert.True(r.ScriptCalls > 0, "the server counted no script call: " + RateLimitBenchReport.Line(r));
            Assert.False(double.IsNaN(r.P99));
            // The paced dispatcher woke up and issued every decision; no phase trace unless asked for.
            Assert.True(r.OpenStats.WakeUps > 0 && r.OpenStats.BurstMax >= 1, RateLimitBenchReport.Line(r));
            Assert.Null(r.Phases);
        });
        // Strict asks Redis once per decision, or once per batch when concurrent decisions on one key coalesce (which
        // happens on 100 keys too when the host is busy), so never more calls than decisions; a lease on a hot key
        // spends claimed batches locally, so far fewer.
        var strictOnManyKeys = rows.Single(r => r is { Mode: "strict", Keys: 100 });
        Assert.InRange(strictOnManyKeys.ScriptCalls, 1, strictOnManyKeys.Decisions);
        var leaseOnHotKey = rows.Single(r => r is { Mode: "lease", Keys: 1 });
        Assert.True(leaseOnHotKey.ScriptCalls * 2 < leaseOnHotKey.Decisions, RateLimitBenchReport.Line(leaseOnHotKey));
        Assert.True(leaseOnHotKey.CallsPerDecision < strictOnManyKeys.CallsPerDecision,
            RateLimitBenchReport.Line(leaseOnHotKey) + " / " + RateLimitBenchReport.Line(strictOnManyKeys));

        Assert.Equal(["strict", "lease"], blackholes.Select(b => b.Mode));
        Assert.All(blackholes, b =>
        {
            Assert.True(b.StopDecisions > 0 && b.StopFallbacks > 0, RateLimitBenchReport.Line(b));
            // Only the reasons of a frozen server: the first calls wait out the deadline, then the breaker answers.
            Assert.Matches("^((no_answer|breaker_open)=[0-9]+ ?)+$", b.StopFallbackReasons);
            Assert.NotNull(b.FirstSharedAfterResumeMs);
        });
        var markdown = RateLimitBenchReport.Markdown(RateLimitBenchOptions.Smoke, rows, blackholes, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        Assert.Contains("| 1 | single | strict | 1 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| 1 | single | lease | ", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_PhasesOn_TracesTheOpenModelsStrictDecisionsAndTheClientsCalls()
    {
        var options = RateLimitBenchOptions.Smoke with { Modes = ["strict"], Keys = [1, 100], Blackhole = TimeSpan.Zero, Phases = true };

        var (rows, _) = await RateLimitBench.RunAsync(options, new StringWriter(), CancellationToken.None);

        Assert.All(rows, r =>
        {
            var phases = Assert.IsType<PhaseTally>(r.Phases);
            // Every decision answered by Redis in the open model reports its phases; the client's profiler saw the
            // script calls (one per batch, so at most as many as decisions).
            Assert.InRange(phases.Traced, 1, r.Decisions);
            Assert.InRange(phases.ProfiledCommands, 1, phases.Traced);
            Assert.InRange(phases.ReadUnseen + phases.ReadOnReader, 0, phases.Traced);
            Assert.Equal(phases.Traced, phases.Coalescing.TotalCount);
            Assert.Contains("phases p50/p99", RateLimitBenchReport.Line(r), StringComparison.Ordinal);
        });
        var markdown = RateLimitBenchReport.Markdown(options, rows, [], DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        Assert.Contains("| coalescing | redis | reader hop |", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_GeneratorAndPhases_SetTheDispatcherAndTheTrace()
    {
        var options = RateLimitBenchOptions.Parse(["--generator", "sleep1", "--phases", "on", "--pace-min", "0us"]);

        Assert.Equal((Generator.Sleep1, true, TimeSpan.Zero), (options.Generator, options.Phases, options.PaceMin));
        Assert.Equal((Generator.Paced, false), (RateLimitBenchOptions.Parse([]).Generator, RateLimitBenchOptions.Parse([]).Phases));
    }

    [Theory]
    [InlineData("--generator", "spin")]
    [InlineData("--phases", "yes")]
    [InlineData("--modes", "bogus")]
    [InlineData("--keys", "0")]
    [InlineData("--redis", "sentinel")]
    [InlineData("--redis-pid", "42")]
    [InlineData("--frobnicate", "1")]
    [InlineData("--copies")]
    [InlineData("--duration", "99999999999h")]
    public async Task RunAsync_RatelimitBadOption_ExitsTwoWithUsage(params string[] options)
    {
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(["ratelimit", .. options], new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.StartsWith("ratelimit: ", stderr.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("..", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("Usage: edge-load ratelimit", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0s")]
    public void Parse_BlackholeZero_SkipsTheBlackholePhase(string value)
    {
        var options = RateLimitBenchOptions.Parse(["--blackhole", value]);

        Assert.Equal(TimeSpan.Zero, options.Blackhole);
    }

    [Fact]
    public void Parse_Defaults_MeasureBothModesHotKeyAnd10kKeysOnSingleAndClusterWithTwoInstances()
    {
        var options = RateLimitBenchOptions.Parse([]);

        Assert.Equal(["single", "cluster"], options.Redis);
        Assert.Equal(["strict", "lease"], options.Modes);
        Assert.Equal([1, 10_000], options.Keys);
        Assert.Equal((2, 0.8), (options.Instances, options.RateFraction));
        Assert.True(options.Blackhole > TimeSpan.Zero);
    }
}
