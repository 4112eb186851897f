using Edge.Proxy.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Tests.Configuration;

public sealed class EdgeConfigStateTests
{
    [Fact]
    public void Building_BeforeYarpApplies_CurrentIsNewServingIsOld()
    {
        var state = new EdgeConfigState();
        var first = Config(1);
        state.Applied(first, [], DateTimeOffset.UtcNow);
        var second = Config(2);

        var yarp = state.Building(second, [], TimeProvider.System);

        Assert.Same(second, state.Current);
        Assert.Same(first, state.Serving);
        Assert.False(yarp.IsCompleted);
    }

    [Fact]
    public async Task YarpApplied_ThePendingConfig_ServesItAndCompletesWithoutError()
    {
        var state = new EdgeConfigState();
        var config = Config(1);
        var yarp = state.Building(config, [], TimeProvider.System);

        new EdgeConfigChangeListener(state).ConfigurationApplied([config]);

        // Serving moves on YARP's thread, before the waiting reload resumes.
        Assert.Same(config, state.Serving);
        Assert.True(state.Loaded);
        Assert.Null(await yarp.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void YarpApplied_AnotherConfig_LeavesThePendingOneWaiting()
    {
        // YARP also reports reloads that carry an older snapshot (the first load's empty revision 0); only the pending
        // config itself settles the wait.
        var state = new EdgeConfigState();
        var older = state.Current;
        var yarp = state.Building(Config(1), [], TimeProvider.System);

        new EdgeConfigChangeListener(state).ConfigurationApplied([older]);

        Assert.False(yarp.IsCompleted);
    }

    [Fact]
    public async Task YarpFailed_ThePendingConfig_CompletesWithTheExceptionAndServingStays()
    {
        var state = new EdgeConfigState();
        var first = Config(1);
        state.Applied(first, [], DateTimeOffset.UtcNow);
        var second = Config(2);
        var yarp = state.Building(second, [], TimeProvider.System);
        var failure = new InvalidOperationException("route 'r' is invalid");

        new EdgeConfigChangeListener(state).ConfigurationApplyingFailed([second], failure);

        Assert.Same(failure, await yarp.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(first, state.Serving);
    }

    [Fact]
    public async Task SettledAsync_WhileYarpApplies_CompletesOnlyOnceItReports()
    {
        // YARP's new routes can serve before it reports them; a status read in between waits rather than name the old revision.
        var state = new EdgeConfigState();
        var config = Config(1);
        var yarp = state.Building(config, [], TimeProvider.System);

        var settled = state.SettledAsync(TimeProvider.System, CancellationToken.None);
        await Task.Delay(50);
        Assert.False(settled.IsCompleted);

        new EdgeConfigChangeListener(state).ConfigurationApplied([config]);
        await settled.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Same(config, state.Serving);
        Assert.Null(await yarp);
    }

    [Fact]
    public async Task Applied_WithoutYarpReport_ReleasesWaitersAndServes()
    {
        // The reload's fallback when YARP never reports: status readers must not keep waiting for it.
        var state = new EdgeConfigState();
        var config = Config(1);
        var yarp = state.Building(config, [], TimeProvider.System);

        state.Applied(config, [], DateTimeOffset.UtcNow);

        Assert.Null(await yarp.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(state.SettledAsync(TimeProvider.System, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void Constructor_TwoStates_DoNotShareTheirFirstConfig()
    {
        // Each host's YARP registers on its state's first snapshot; a shared one, signalled by another host's first load,
        // made a second host in the same process reload forever.
        Assert.NotSame(new EdgeConfigState().Current, new EdgeConfigState().Current);
    }

    private static EdgeProxyConfig Config(long revision) =>
        new(Array.Empty<RouteConfig>(), Array.Empty<ClusterConfig>(), EdgeSection.Empty, new string((char)('0' + revision), 64), revision);
}
