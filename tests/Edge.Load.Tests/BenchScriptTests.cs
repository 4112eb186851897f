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
    public async Task Main_BadUsage_ExitsTwoWithAMessage(params string[] args)
    {
        var (exit, _, stderr) = await RunAsync(args);

        Assert.Equal(2, exit);
        Assert.Contains("bench: ", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
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
