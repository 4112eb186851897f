using Edge.Load.EdgeScenarios;
using Edge.Load.Reporting;
using Edge.Load.Running;
using Edge.Load.Simulations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Load.Tests.Running;

/// <summary>Percentiles against a Kestrel backend whose latency distribution is known: the numbers may be higher (the machine is shared), never lower.</summary>
public sealed class LatencyAccuracyTests
{
    [Fact]
    public async Task RunAsync_FixedDelayBackend_EveryPercentileAtLeastTheDelay()
    {
        await using var backend = await DelayBackend.StartAsync(_ => TimeSpan.FromMilliseconds(20));

        var ok = await RunAsync(backend, Simulation.Inject(50, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));

        Assert.Equal(100, ok.Count);
        Assert.All(new[] { ok.MinMs, ok.P50Ms, ok.P75Ms, ok.P95Ms, ok.P99Ms, ok.MaxMs }, v => Assert.True(v >= 20, $"{v} ms is below the backend's 20 ms delay"));
    }

    [Fact]
    public async Task RunAsync_BimodalBackend_P99ShowsTheSlowMode()
    {
        // Every 10th request takes 300 ms, the rest 1 ms: p50 sits in the fast mode, p95 and p99 in the slow one.
        await using var backend = await DelayBackend.StartAsync(n => TimeSpan.FromMilliseconds(n % 10 == 0 ? 300 : 1));

        var ok = await RunAsync(backend, Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));

        Assert.Equal(200, ok.Count);
        Assert.True(ok.P95Ms >= 300, $"p95 {ok.P95Ms} ms misses the 300 ms mode");
        Assert.True(ok.P99Ms >= 300, $"p99 {ok.P99Ms} ms misses the 300 ms mode");
        Assert.True(ok.MaxMs >= 300, $"max {ok.MaxMs} ms");
    }

    [Fact]
    public async Task RunAsync_OpenModelAboveCapacity_LatencyIncludesTheQueueFromTheIntendedSendTime()
    {
        // The backend serves one request at a time, 20 ms each (50/s). 100/s for 2 s queues up: the last requests wait
        // about 2 s behind the others. Measured from the intended send time, p99 must show that wait, not 20 ms.
        var one = new SemaphoreSlim(1);
        await using var backend = await DelayBackend.StartAsync(_ => TimeSpan.FromMilliseconds(20), one);

        var ok = await RunAsync(backend, Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));

        Assert.Equal(200, ok.Count);
        Assert.True(ok.P99Ms >= 1500, $"p99 {ok.P99Ms} ms hides the queue (200 requests at 20 ms each, one at a time)");
        Assert.True(ok.MaxMs >= 1900, $"max {ok.MaxMs} ms");
    }

    [Fact]
    public async Task RunAsync_OpenModelAboveCapacity_RpsIsTheRateServedNotTheRateSent()
    {
        // One request at a time, at least 20 ms each: the backend cannot serve more than 50/s, so 200 requests sent in
        // 2 s take at least 4 s to answer. Dividing them by the 2 s schedule reported 100/s.
        var one = new SemaphoreSlim(1);
        await using var backend = await DelayBackend.StartAsync(_ => TimeSpan.FromMilliseconds(20), one);
        var scenario = EdgeScenarioCatalog.Find("plain-get")!.Create().WithLoadSimulations(Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));

        var report = await LoadTest.RunAsync([scenario], new LoadTestOptions { Target = backend.Url, RequestTimeout = TimeSpan.FromSeconds(30) });

        var result = report.Scenarios[0];
        Assert.Equal(200, result.Global.Ok.Count);
        Assert.True(result.Global.Ok.Rps <= 50, $"ok-rps {result.Global.Ok.Rps} is above what the backend can serve");
        Assert.True(result.Duration >= TimeSpan.FromSeconds(4), $"measured {result.Duration}");
        Assert.Contains("2 s of load, then", Edge.Load.Reporting.MarkdownReport.Render(report), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_OpenModelAboveCapacity_ReportSaysTheOfferedRateWasNotAchievedAndByHowMuch()
    {
        // 100/s offered to a backend that serves at most 50/s: the report printed "RPS 48" and nothing about the 100 asked for.
        var one = new SemaphoreSlim(1);
        await using var backend = await DelayBackend.StartAsync(_ => TimeSpan.FromMilliseconds(20), one);
        var scenario = EdgeScenarioCatalog.Find("plain-get")!.Create().WithLoadSimulations(Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));

        var report = await LoadTest.RunAsync([scenario], new LoadTestOptions { Target = backend.Url, RequestTimeout = TimeSpan.FromSeconds(30) });

        var result = report.Scenarios[0];
        Assert.Equal(100, result.OfferedRps);
        Assert.Equal(200, result.Scheduled);
        Assert.Equal(200, result.Sent);
        Assert.Equal(result.Sent, result.Global.Requests);
        Assert.True(result.AchievedShareOfOffered <= 0.5, $"served {result.AchievedShareOfOffered:P1} of the offered rate, above the backend's capacity");
        Assert.True(result.OfferedRateMissed);
        var share = result.AchievedShareOfOffered!.Value;
        var line = Assert.Single(MarkdownReport.Render(report).Split('\n'), l => l.StartsWith("- rate: ", StringComparison.Ordinal));
        Assert.Equal(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"- rate: offered 100/s (200 scheduled, 200 sent); served {Edge.Load.Reporting.Formatting.Rate(result.Global.Ok.Rps)} ok/s, {share * 100:0.0}% of the offered rate: offered rate NOT achieved ({(1 - share) * 100:0.0}% short)"), line.TrimEnd('\r'));
    }

    private static async Task<OutcomeReport> RunAsync(DelayBackend backend, LoadSimulation simulation)
    {
        var scenario = EdgeScenarioCatalog.Find("plain-get")!.Create().WithLoadSimulations(simulation);
        var report = await LoadTest.RunAsync([scenario], new LoadTestOptions { Target = backend.Url, RequestTimeout = TimeSpan.FromSeconds(30) });
        Assert.Equal(0, report.Scenarios[0].Global.Fail.Count);
        return report.Scenarios[0].Global.Ok;
    }

    private sealed class DelayBackend(WebApplication app, Uri url) : IAsyncDisposable
    {
        public Uri Url { get; } = url;

        public static async Task<DelayBackend> StartAsync(Func<long, TimeSpan> delayOf, SemaphoreSlim? serial = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            long requests = 0;
            app.Run(async context =>
            {
                var delay = delayOf(Interlocked.Increment(ref requests));
                if (serial is null)
                {
                    await AtLeastAsync(delay, context.RequestAborted);
                }
                else
                {
                    await serial.WaitAsync(context.RequestAborted);
                    try
                    {
                        await AtLeastAsync(delay, context.RequestAborted);
                    }
                    finally
                    {
                        serial.Release();
                    }
                }

                context.Response.StatusCode = StatusCodes.Status200OK;
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new DelayBackend(app, new Uri(address));
        }

        public ValueTask DisposeAsync() => app.DisposeAsync();

        // Task.Delay's timer can fire a little early (it counts in coarse ticks); the backend must hold each request at
        // least the delay, or a correct measurement would look wrong.
        private static async Task AtLeastAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await Task.Delay(delay, cancellationToken);
            while (System.Diagnostics.Stopwatch.GetElapsedTime(started) < delay)
            {
                await Task.Delay(1, cancellationToken);
            }
        }
    }
}
