using Edge.Load.Cli;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Load.Tests.Cli;

public sealed class StopRequestsTests
{
    [Fact]
    public void Stop_First_CancelsTheRunAndKeepsTheProcess()
    {
        using var cancel = new CancellationTokenSource();
        var stop = new StopRequests(cancel, new FakeTimeProvider());

        Assert.True(stop.Stop());
        Assert.True(cancel.IsCancellationRequested);
    }

    [Fact]
    public void Stop_RepeatedWithinTheSameStopWindow_KeepsTheProcess()
    {
        // timeout(1) sends SIGTERM to the tool and then to its process group: one stop, two signals.
        using var cancel = new CancellationTokenSource();
        var time = new FakeTimeProvider();
        var stop = new StopRequests(cancel, time);

        stop.Stop();
        time.Advance(TimeSpan.FromMilliseconds(200));

        Assert.True(stop.Stop());
    }

    [Fact]
    public void Stop_AgainAfterTheSameStopWindow_EndsTheProcess()
    {
        using var cancel = new CancellationTokenSource();
        var time = new FakeTimeProvider();
        var stop = new StopRequests(cancel, time);

        stop.Stop();
        time.Advance(StopRequests.SameStop);

        Assert.False(stop.Stop());
    }
}
