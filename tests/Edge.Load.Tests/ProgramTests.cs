using System.Diagnostics;
using Edge.Load.Cli;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Edge.Load.Tests;

/// <summary>The edge-load process itself: how it ends when told to stop.</summary>
public sealed class ProgramTests
{
    [Fact]
    public Task Main_SigtermMidRun_WritesPartialReportAndExitsInterrupted() =>
        // docker stop, timeout(1) and a CI runner cancelling a job send SIGTERM, not Ctrl+C.
        AssertStoppedWithReportAsync("kill -TERM {0}");

    [Fact]
    public Task Main_SigtermTwiceInQuickSuccession_StillWritesPartialReportAndExitsInterrupted() =>
        // timeout(1) signals the tool and then its process group; the second signal used to end the run without a report.
        AssertStoppedWithReportAsync("kill -TERM {0}; sleep 0.02; kill -TERM {0}");

    private static async Task AssertStoppedWithReportAsync(string killScript)
    {
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
        var folder = TestBackends.TempFolder("sigterm");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { typeof(CliApp).Assembly.Location, "run", "-s", "plain-get", "-t", server.Url!, "--simulation", "inject:rate=20,during=60s", "-o", folder, "-q" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!server.LogEntries.Any() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        using (var kill = Process.Start("sh", ["-c", string.Format(System.Globalization.CultureInfo.InvariantCulture, killScript, process.Id)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == ExitCodes.Interrupted, $"exit {process.ExitCode}: {await stderr}");
        Assert.Contains("(cancelled)", File.ReadAllText(Path.Combine(folder, "report.md")), StringComparison.Ordinal);
        Assert.Contains("plain-get: ok=", await stdout, StringComparison.Ordinal);
    }
}
