using System.Globalization;
using Edge.Load.Cli;

namespace Edge.Load.Tests;

/// <summary>Runs the real CLI for a few seconds against the real Kestrel bench backend so the tool cannot rot. Timing is not asserted.</summary>
public sealed class SmokeTests
{
    [Fact]
    public async Task Cli_PlainGetAndClosedModelAgainstBenchBackend_CompletesWithReportsAndThresholdsPassed()
    {
        var (backend, url) = await TestBackends.StartBenchBackendAsync();
        await using var _ = backend;
        var folder = TestBackends.TempFolder("smoke");
        var stdout = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "--scenario", "plain-get", "--target", url.ToString(), "--param", "path=/api/orders/1",
             "--simulation", "ramp-constant:copies=4,during=1s", "--simulation", "constant:copies=4,during=1s", "--simulation", "pause:200ms",
             "--warmup", "500ms", "--report-folder", folder, "--threshold", "fail% < 1", "--threshold", "requests > 0"],
            stdout, new StringWriter());

        Assert.Equal(ExitCodes.Ok, exit);
        var output = stdout.ToString();
        Assert.Contains("warm-up 500ms (not counted)", output, StringComparison.Ordinal);
        Assert.Contains("] plain-get", output, StringComparison.Ordinal); // live progress lines
        var globalOk = File.ReadAllLines(Path.Combine(folder, "report.csv")).Single(l => l.StartsWith("plain-get,global,ok,", StringComparison.Ordinal)).Split(',');
        Assert.True(long.Parse(globalOk[3], CultureInfo.InvariantCulture) > 0);
        Assert.True(File.Exists(Path.Combine(folder, "report.html")));
    }
}
