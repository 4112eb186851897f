using System.Diagnostics;

namespace Edge.Load.Tests;

/// <summary>load/bench.sh's argument handling; these cases exit before anything is built or started.</summary>
public sealed class BenchScriptTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("--preset", "auth", "--help")]
    public async Task Main_Help_PrintsUsageNotScriptCodeAndExitsZero(params string[] args)
    {
        var (exit, stdout, _) = await RunAsync(args);

        Assert.Equal(0, exit);
        Assert.StartsWith("Usage: load/bench.sh", stdout, StringComparison.Ordinal);
        Assert.Contains("--preset", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("set -euo", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("$(", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--frobnicate")]
    [InlineData("--preset", "nope")]
    [InlineData("--paths", "direct,teleport")]
    [InlineData("--route", "no-slash")]
    [InlineData("--rounds")]
    [InlineData("--rounds", "0")]
    [InlineData("--rounds", "abc")]
    [InlineData("--copies", "0")]
    [InlineData("--rate", "-1")]
    [InlineData("--duration", "xyz")]
    [InlineData("--duration", "0s")]
    [InlineData("--warmup", "-2s")]
    [InlineData("--warm-round", "0s")]
    [InlineData("--edge-target", "old=load/bench/proxy.full.json,bin:/nonexistent/Edge.Proxy.dll")]
    [InlineData("--edge-target", "old=load/bench/proxy.full.json,bin:")]
    [InlineData("--cross-check", "ab")]
    [InlineData("--cross-check")]
    [InlineData("--preset", "webhooks", "--cross-check", "wrk")]
    public async Task Main_BadUsage_ExitsTwoWithAMessage(params string[] args)
    {
        var (exit, _, stderr) = await RunAsync(args);

        Assert.Equal(2, exit);
        Assert.Contains("bench: ", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("80")]
    [InlineData("65000")]
    public async Task Main_BadPortBase_ExitsTwoNamingIt(string portBase)
    {
        var (exit, _, stderr) = await RunAsync(["--smoke"], new Dictionary<string, string> { ["BENCH_PORT_BASE"] = portBase });

        Assert.Equal(2, exit);
        Assert.Contains($"bench: BENCH_PORT_BASE must be a port number from 1024 to 64000, got '{portBase}'", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "0.95", "1.19 1.02 0.99", ">=", "not judged (smoke run)")]
    [InlineData(0, "0.95", "1.19 1.02 0.99", ">=", "met in 3 of 3 rounds")]
    [InlineData(0, "0.95", "0.35 0.40 0.90", ">=", "NOT met in any of 3 rounds")]
    [InlineData(0, "0.95", "0.80 0.96 0.99", ">=", "not shown: met in 2 of 3 rounds")]
    [InlineData(0, "0.95", "0.96 n/a 0.97", ">=", "met in 2 of 2 rounds")]
    [InlineData(0, "1", "+0.950 +1.200", "<=", "not shown: met in 1 of 2 rounds")]
    [InlineData(0, "1", "+0.950 +0.200", "<=", "met in 2 of 2 rounds")]
    [InlineData(1, "0.95", "n/a", ">=", "not measured")]
    [InlineData(0, "2048", "n/a n/a", "<=", "not measured")]
    public async Task RoundVerdict_PerRoundValues_MetOnlyWhenEveryRoundMeetsAndSmokeRunsJudgeNothing(int smoke, string target, string values, string op, string expected)
    {
        // The report's verdict, as bench.sh defines it, run on its own (a whole run takes minutes here): it was judged on
        // the medians, and read "NOT met" for a row two of whose three rounds met the target, and "met" in a smoke run.
        var definition = Definition("round_verdict");
        var (exit, stdout) = await RunBashAsync($"SMOKE={smoke}\n{definition}\nround_verdict '{target}' '{op}' '{values}'");

        Assert.Equal(0, exit);
        Assert.Equal(expected, stdout.Trim());
    }

    [Fact]
    public async Task RoundValues_RawSamples_EachRoundsOwnRatioDifferenceOrValueAndNaWhereMissing()
    {
        // Raw samples as bench.sh writes them: round target mode rps p50 p99 ok fail decisions calls fallbacks, then proxy,
        // backend, Redis and writer CPU per request and allocated bytes ("-" where not measured).
        var samples = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(samples,
            [
                "1 yarp max 20000 1 4 1 0 0 0 0 45 - - - -", "1 yarp rate 999 0.3 2.000 1 0 0 0 0 390 260 - - 3850",
                "1 edge max 15000 2 6 1 0 0 0 0 70 - - 20 -", "1 edge rate 999 0.4 3.250 1 0 0 0 0 480 270 2 25.0 5300",
                "2 edge max 19000 2 6 1 0 0 0 0 70 - - 19 -", "2 edge rate 999 0.4 2.500 1 0 0 0 0 480 270 2 23.3 -",
                "2 yarp max 20000 1 4 1 0 0 0 0 45 - - - -", "2 yarp rate 999 0.3 2.100 1 0 0 0 0 390 260 - - 3860",
                "3 yarp max 18000 1 4 1 0 0 0 0 45 - - - -",
            ]);
            var definition = Definition("round_values");
            var (exit, stdout) = await RunBashAsync(
                $"{definition}\nS='{samples}'\nround_values ratio edge yarp 4 max - \"$S\"\nround_values added edge yarp 6 rate %+.3f \"$S\"\n" +
                "round_values added edge yarp 16 rate %+.0f \"$S\"\nround_values value edge yarp 15 rate - \"$S\"\nround_values value other yarp 15 rate - \"$S\"");

            Assert.Equal(0, exit);
            Assert.Equal(["0.75 0.95 n/a", "+1.250 +0.400", "+1450 n/a", "25.0 23.3", "n/a"], stdout.TrimEnd().Split('\n'));
        }
        finally
        {
            File.Delete(samples);
        }
    }

    [Theory]
    [InlineData("10s", "10")]
    [InlineData("500ms", "1")]
    [InlineData("2.5s", "3")]
    [InlineData("2m", "120")]
    [InlineData("1h", "3600")]
    [InlineData("00:01:30", "90")]
    [InlineData("0s", "0")]
    [InlineData("250us", "1")]
    public async Task WholeSeconds_Durations_RoundedUpToTheSecondsWrkTakes(string duration, string expected)
    {
        // wrk's -d takes whole seconds, minutes or hours; bench.sh's durations also come in ms, us and hh:mm:ss.
        var definition = Definition("whole_seconds");
        var (exit, stdout) = await RunBashAsync($"{definition}\nwhole_seconds '{duration}'");

        Assert.Equal(0, exit);
        Assert.Equal(expected, stdout.Trim());
    }

    [Fact]
    public async Task WrkSummary_WrkOutput_RequestsPerSecondNon2xxAndSocketErrorsSummed()
    {
        // The cross-check counts only what was served: a row whose answers were refusals or dropped connections must show
        // them beside its RPS, which wrk counts as requests all the same.
        var output = Path.GetTempFileName();
        var clean = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(output, """
                Running 10s test @ http://127.0.0.1:18003/fast
                  1 threads and 32 connections
                  Thread Stats   Avg      Stdev     Max   +/- Stdev
                    Latency     1.41ms  708.87us  18.16ms   87.05%
                    Req/Sec    22.97k     1.54k   25.31k    79.00%
                  228633 requests in 10.00s, 40.34MB read
                  Socket errors: connect 1, read 2, write 3, timeout 4
                  Non-2xx or 3xx responses: 17
                Requests/sec:  22860.07
                Transfer/sec:      4.03MB
                """);
            await File.WriteAllTextAsync(clean, """
                Running 10s test @ http://127.0.0.1:18003/fast
                  228633 requests in 10.00s, 40.34MB read
                Requests/sec:  22860.07
                """);
            var definition = Definition("wrk_summary");
            var (exit, stdout) = await RunBashAsync($"{definition}\nwrk_summary '{output}'\nwrk_summary '{clean}'\nwrk_summary /dev/null");

            Assert.Equal(0, exit);
            Assert.Equal(["22860.07 17 10", "22860.07 0 0", "- 0 0"], stdout.TrimEnd().Split('\n'));
        }
        finally
        {
            File.Delete(output);
            File.Delete(clean);
        }
    }

    [Theory]
    [InlineData("1000", "6000", "1000", "5")]
    [InlineData("1000", "1000", "1000", "-")] // a scrape that did not advance: was 0 bytes per request
    [InlineData("1000", "900", "1000", "-")]
    [InlineData("", "6000", "1000", "-")]
    [InlineData("1000", "6000", "0", "-")]
    public async Task AllocPerRequest_CounterReadings_BytesPerRequestOrDashWhenNotMeasured(string before, string after, string requests, string expected)
    {
        // The report's allocation column, as bench.sh defines it, run on its own: one run's edge row read 0 bytes per
        // request (-3,801 over bare YARP) when its counter answered the same value before and after.
        var definition = Definition("alloc_per_request");
        var (exit, stdout) = await RunBashAsync($"{definition}\nalloc_per_request '{before}' '{after}' '{requests}'");

        Assert.Equal(0, exit);
        Assert.Equal(expected, stdout.Trim());
    }

    [Fact]
    public async Task RoundRatios_ThreeRounds_EachRoundsOwnRatioInOrderAndNaWhereARoundLacksAValue()
    {
        // The report's per-round ratio column, as bench.sh defines it, on raw samples (round target mode rps ...): the
        // median alone hid a row whose rounds read 0.66, 0.59 and 0.86.
        var samples = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(samples,
            [
                "1 yarp max 24000 1 3", "1 edge max 15840 1 4", "1 edge rate 999 0.2 1",
                "2 edge max 16800 1 4", "2 yarp max 28000 1 3",
                "3 yarp max 30000 1 3",
            ]);
            var definition = Definition("round_ratios");
            var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"{definition}\nround_ratios edge yarp \"$1\"; round_ratios yarp yarp \"$1\"");
            info.ArgumentList.Add("bench");
            info.ArgumentList.Add(samples);

            using var process = Process.Start(info)!;
            var stdout = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();

            Assert.Equal(0, process.ExitCode);
            Assert.Equal(["0.66 / 0.60 / n/a", "1.00 / 1.00 / 1.00"], stdout.TrimEnd().Split('\n'));
        }
        finally
        {
            File.Delete(samples);
        }
    }

    [Fact]
    public async Task FreePort_SeveralProcesses_StayWithinOneHundredPortsOfTheBaseAndSkipTakenOnes()
    {
        // The allocator as bench.sh defines it, run on its own (a whole run takes minutes here). It used to hand out
        // ports from base+100 to base+1,300, so a user given a range of 100 ports could not run the benchmark in it.
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var portBase = takenPort - 1;
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "load", "bench.sh"));
        var first = Array.FindIndex(lines, l => l.StartsWith("NEXT_PORT=", StringComparison.Ordinal));
        Assert.True(first >= 0, "bench.sh has no NEXT_PORT= line before free_port()");
        var last = Array.FindIndex(lines, first, l => l == "}");
        var definition = string.Join('\n', lines[first..(last + 1)]);

        var (exit, stdout) = await RunBashAsync(
            $"fail() {{ echo \"FAILED: $*\"; exit 1; }}\nPORT_BASE={portBase}\n{definition}\nfree_port a; free_port port; free_port mgmt; echo \"$a $port $mgmt\"");

        Assert.Equal(0, exit);
        var ports = stdout.Trim().Split(' ').Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(3, ports.Length);
        Assert.DoesNotContain(takenPort, ports);
        Assert.Equal(ports.Order(), ports);
        Assert.Equal(3, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, portBase, portBase + 99));
    }

    [Fact]
    public async Task CommitText_TreeWithUncommittedChanges_SaysSo()
    {
        // The report named the commit only, so numbers measured on edited code read as the commit's own.
        var repository = TestBackends.TempFolder("bench-commit");
        var definition = Definition("commit_text");
        File.WriteAllText(Path.Combine(repository, "a.txt"), "one");
        var setup = "git init -q && git add a.txt && git -c user.name=t -c user.email=t@example.com commit -qm one";

        var (_, clean) = await RunBashAsync($"cd '{repository}' && {setup} && {definition}\ncommit_text");
        var (exit, dirty) = await RunBashAsync($"cd '{repository}' && echo two > a.txt && {definition}\ncommit_text");

        Assert.Equal(0, exit);
        Assert.Matches("^[0-9a-f]{7,}$", clean.Trim());
        Assert.Equal(clean.Trim() + " with uncommitted changes", dirty.Trim());
    }

    /// <summary>One function of bench.sh, whose definition is one line, to run on its own.</summary>
    private static string Definition(string function) =>
        File.ReadLines(Path.Combine(RepositoryRoot(), "load", "bench.sh")).Single(l => l.StartsWith(function + "() {", StringComparison.Ordinal));

    private static async Task<(int Exit, string Stdout)> RunBashAsync(string script)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        using var process = Process.Start(info)!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, stdout);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args, Dictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? [])
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(Path.Combine(RepositoryRoot(), "load", "bench.sh"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(directory.FullName, "Edge.sln")))
        {
            directory = directory.Parent ?? throw new InvalidOperationException("Edge.sln not found above the test output.");
        }

        return directory.FullName;
    }
}
