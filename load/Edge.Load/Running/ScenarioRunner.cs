using System.Diagnostics;
using Edge.Load.Reporting;
using Edge.Load.Scenarios;
using Edge.Load.Simulations;
using Edge.Load.Stats;

namespace Edge.Load.Running;

/// <summary>Drives one scenario through its warm-up and its measured simulations.</summary>
internal sealed class ScenarioRunner(ScenarioDefinition scenario, LoadTestOptions options, ProgressPrinter progress)
{
    private static readonly long EarlyDispatchTicks = Stopwatch.Frequency * 3 / 2000;
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(2);

    public async Task<ScenarioReport> RunAsync(CancellationToken cancellationToken)
    {
        var plan = LoadPlan.Create(scenario.Simulations);
        var warmUp = LoadPlan.WarmUp(scenario.Simulations, scenario.WarmUp);
        var warmUpStats = new ScenarioStats();
        var warmedUp = TimeSpan.Zero;
        if (warmUp is not null)
        {
            progress.Line($"{scenario.Name}: warm-up {DurationParser.Format(scenario.WarmUp)} (not counted)");
            var warmUpStarted = Stopwatch.GetTimestamp();
            await DriveAsync(warmUp, warmUpStats, cancellationToken).ConfigureAwait(false);

            // Stopped during the warm-up, the report gave the warm-up asked for ("5 s, 55 requests" after one second).
            warmedUp = cancellationToken.IsCancellationRequested ? Stopwatch.GetElapsedTime(warmUpStarted) : scenario.WarmUp;
        }

        var stats = new ScenarioStats();
        var started = Stopwatch.GetTimestamp();
        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampling = SampleAsync(stats, plan, started, stopSampling.Token);

        await DriveAsync(plan, stats, cancellationToken).ConfigureAwait(false);

        var elapsed = Stopwatch.GetElapsedTime(started);
        await stopSampling.CancelAsync().ConfigureAwait(false);
        await sampling.ConfigureAwait(false);
        stats.Sample(elapsed.TotalSeconds, minPointSeconds: options.SampleInterval.TotalSeconds / 2);

        var cancelled = cancellationToken.IsCancellationRequested;
        // The load's own length, unless ok responses kept arriving after it: above capacity an open model's requests queue
        // up, and dividing the responses over the schedule alone reported the rate they were sent at, not served at.
        // Only ok responses extend it: one request timing out 10 s after the load would otherwise dilute the ok rate.
        var last = stats.LastOkTimestamp;
        var lastResponse = last == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(started, last);
        var measured = cancelled ? elapsed : lastResponse > plan.Duration ? lastResponse : plan.Duration;
        var seconds = measured.TotalSeconds;
        return new ScenarioReport
        {
            Name = scenario.Name,
            Simulations = [.. scenario.Simulations.Select(static s => s.Describe())],
            WarmUp = warmedUp,
            WarmUpRequests = warmUpStats.Global.Ok.Count + warmUpStats.Global.Fail.Count,
            Duration = measured,
            LoadDuration = plan.Duration,
            Cancelled = cancelled,
            Steps = [ReportBuilder.Step(stats.Global, seconds), .. stats.SubSteps.Select(s => ReportBuilder.Step(s, seconds))],
            TimeSeries = [.. stats.Series],
            Sent = stats.Sent,
            Scheduled = plan.Model == LoadModel.Open ? plan.ScheduledInvocations : null,
            MaxDispatchLag = plan.Model == LoadModel.Open ? stats.MaxDispatchLag : null,
            LateDispatches = plan.Model == LoadModel.Open ? stats.LateDispatches : null,
            RequestedProtocol = options.Http2 ? ProtocolNames.Http2 : ProtocolNames.Http11,
            ProtocolNegotiation = !options.Http2 ? null
                : options.Target?.Scheme == Uri.UriSchemeHttps ? "ALPN, HTTP/1.1 if the server does not offer h2"
                : options.Target?.Scheme == Uri.UriSchemeHttp ? "h2c, prior knowledge"
                : "h2c with prior knowledge on http://, ALPN on https://",
            Protocols = [.. stats.Versions().Select(static p => new ProtocolCount(ProtocolNames.Of(p.Key), p.Value))],
        };
    }

    private async Task SampleAsync(ScenarioStats stats, LoadPlan plan, long started, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(options.SampleInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var point = stats.Sample(elapsed);
                progress.Point(scenario.Name, point, stats, plan.SegmentAt(elapsed)?.Description ?? "draining");
            }
        }
        catch (OperationCanceledException)
        {
            // The run ended; the caller takes the final sample.
        }
    }

    private Task DriveAsync(LoadPlan plan, ScenarioStats stats, CancellationToken cancellationToken) =>
        plan.Model == LoadModel.Open ? DriveOpenAsync(plan, stats, cancellationToken) : DriveClosedAsync(plan, stats, cancellationToken);

    // Open model: invocations start on a fixed schedule whatever the responses do, and latency is measured from the
    // intended send time, so a slow server (or a late generator) shows up in the numbers instead of hiding (no coordinated omission).
    // The schedule runs on its own thread: an async loop's timer continuations would queue behind response handling on a
    // busy thread pool, which is exactly when the generator must stay on time.
    private async Task DriveOpenAsync(LoadPlan plan, ScenarioStats stats, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Dispatch(plan, stats, cancellationToken);
                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "edge-load dispatcher " + scenario.Name,
            Priority = ThreadPriority.AboveNormal,
        };
        thread.Start();
        await done.Task.ConfigureAwait(false);
        await DrainAsync(stats).ConfigureAwait(false);
    }

    private void Dispatch(LoadPlan plan, ScenarioStats stats, CancellationToken cancellationToken)
    {
        var schedule = plan.CreateSchedule();
        var start = Stopwatch.GetTimestamp();
        var frequency = (double)Stopwatch.Frequency;
        long invocation = 0;
        while (!cancellationToken.IsCancellationRequested && schedule.TryNext(out var offset))
        {
            var intended = start + (long)(offset * frequency);

            // Sleeps wake late by up to ~1 ms, and lateness counts against the server (latency is measured from the
            // intended time). So sleep to just before the intended time and dispatch up to EarlyDispatchTicks early;
            // an early invocation is measured from its real start. Sleeps are capped so cancellation is seen quickly.
            long wait;
            while ((wait = intended - Stopwatch.GetTimestamp()) > EarlyDispatchTicks && !cancellationToken.IsCancellationRequested)
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Clamp(Math.Floor((wait - EarlyDispatchTicks) * 1000 / frequency), 1, 50)));
            }

            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            stats.Started(); // counted before queueing, so the drain cannot miss an invocation that has not started yet
            var work = new Invocation(this, stats, intended, invocation++, cancellationToken);
            ThreadPool.UnsafeQueueUserWorkItem(static w => _ = w.RunAsync(), work, preferLocal: false);
        }

        // The load lasts as long as its simulations, not until its last send: inject:rate=1,during=1s sent at 0 s and ended
        // with the response 0.08 s in, so its RPS chart read 13/s on a 0.1 s axis, and a trailing pause was skipped.
        var end = start + (long)(plan.Duration.TotalSeconds * frequency);
        long left;
        while ((left = end - Stopwatch.GetTimestamp()) > 0 && !cancellationToken.IsCancellationRequested)
        {
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Clamp(Math.Ceiling(left * 1000 / frequency), 1, 50)));
        }
    }

    // Closed model: a number of copies each loop "invoke, wait for the response, invoke again".
    private async Task DriveClosedAsync(LoadPlan plan, ScenarioStats stats, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var copies = new List<(Task Task, CancellationTokenSource Stop)>();
        var retired = new List<(Task Task, CancellationTokenSource Stop)>();
        long invocation = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var target = plan.CopiesAt(Stopwatch.GetElapsedTime(start).TotalSeconds);
                if (target is null)
                {
                    break;
                }

                while (copies.Count < target)
                {
                    var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    copies.Add((Task.Run(() => CopyLoopAsync(stats, () => Interlocked.Increment(ref invocation) - 1, stop.Token, cancellationToken), CancellationToken.None), stop));
                }

                while (copies.Count > target)
                {
                    var last = copies[^1];
                    copies.RemoveAt(copies.Count - 1);
                    retired.Add(last);
                    await last.Stop.CancelAsync().ConfigureAwait(false);
                }

                try
                {
                    await Task.Delay(10, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            foreach (var copy in copies)
            {
                await copy.Stop.CancelAsync().ConfigureAwait(false);
            }

            copies.AddRange(retired);
            var draining = Stopwatch.GetTimestamp();
            await Task.WhenAny(Task.WhenAll(copies.Select(static c => c.Task)), Task.Delay(DrainTimeout)).ConfigureAwait(false);
            stats.Close(Stopwatch.GetTimestamp() - draining);
            foreach (var copy in copies)
            {
                copy.Stop.Dispose();
            }
        }
    }

    private async Task CopyLoopAsync(ScenarioStats stats, Func<long> nextInvocation, CancellationToken stop, CancellationToken abort)
    {
        // The run's own token too: on a stop it is cancelled before the callbacks that cancel each copy's linked token run,
        // and meanwhile a copy started invocations that failed at once as 'cancelled', counted as sent, and looped.
        while (!stop.IsCancellationRequested && !abort.IsCancellationRequested)
        {
            stats.Started();
            await InvokeAsync(stats, Stopwatch.GetTimestamp(), nextInvocation(), abort).ConfigureAwait(false);
        }
    }

    private async Task InvokeAsync(ScenarioStats stats, long measureFrom, long invocation, CancellationToken cancellationToken, bool open = false)
    {
        var context = new ScenarioContext(scenario.Name, invocation, stats, cancellationToken, open ? measureFrom : 0);
        Response response;
        try
        {
            response = await scenario.Run(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            response = Response.Fail(ex is OperationCanceledException ? "cancelled" : "exception", message: ex.GetType().Name);
        }

        // An invocation of several steps moved all of their bytes, not only the returned step's, and one that threw after
        // a step moved that step's: the global row's bytes then add up to the steps'.
        var steps = context.StepsRun;
        if (steps > 0 && response.SizeBytes != context.StepBytes)
        {
            response = response with { SizeBytes = context.StepBytes };
        }

        // Recorded as it leaves the in-flight count: the final sample is taken once nothing is in flight.
        stats.Completed(response, Stopwatch.GetTimestamp() - measureFrom, countVersion: steps == 0);
    }

    private async Task DrainAsync(ScenarioStats stats)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(DrainTimeout.TotalSeconds * Stopwatch.Frequency);
        while (stats.InFlight > 0 && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(5).ConfigureAwait(false);
        }

        stats.Close(Stopwatch.GetTimestamp() - started);
    }

    /// <summary>At least the request timeout and a little more, so a request the server holds on to ends as a timeout, counted.</summary>
    private TimeSpan DrainTimeout => options.DrainTimeout > options.RequestTimeout + DrainGrace ? options.DrainTimeout : options.RequestTimeout + DrainGrace;

    private sealed class Invocation(ScenarioRunner runner, ScenarioStats stats, long intended, long number, CancellationToken cancellationToken)
    {
        public async Task RunAsync()
        {
            // Dispatched slightly early (the timer is ~1 ms grained) measures from the real start; late measures from the intended time.
            var now = Stopwatch.GetTimestamp();
            var measureFrom = Math.Min(intended, now);

            // The lag is taken here, when the invocation starts, not when the dispatcher queued it: a wait in the thread
            // pool's queue is the generator's too. At 20000/s on 2 cores invocations started up to 7.4 s late while the
            // dispatcher's own lag read 375 ms, so the report pinned the generator's delay on the target.
            stats.DispatchLag(Math.Max(0, now - intended));
            await runner.InvokeAsync(stats, measureFrom, number, cancellationToken, open: true).ConfigureAwait(false);
        }
    }
}
