using Edge.Proxy.Authorization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Authorization;

public sealed class AuthenticationFailureTrackerTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly AuthenticationFailureTracker _tracker;
    private readonly List<string> _crossings = [];

    public AuthenticationFailureTrackerTests()
    {
        _tracker = new AuthenticationFailureTracker(
            Options.Create(new AuthenticationFailureOptions { Threshold = 3, Window = TimeSpan.FromMinutes(1), MaxTracked = 2 }),
            _time,
            NullLogger<AuthenticationFailureTracker>.Instance);
        _tracker.ThresholdCrossed += _crossings.Add;
    }

    [Fact]
    public void RecordFailure_ReachingThreshold_SignalsOncePerWindow()
    {
        for (var i = 0; i < 5; i++)
        {
            _tracker.RecordFailure("10.0.0.1", "alice");
        }

        Assert.Equal(["ip", "principal"], _crossings);
        Assert.Equal(1, _tracker.SuspectCount(AuthenticationFailureTracker.IpKind));
        Assert.Equal(5, _tracker.Failures(AuthenticationFailureTracker.PrincipalKind, "alice"));
    }

    [Fact]
    public void RecordFailure_WindowExpired_CountStartsOver()
    {
        _tracker.RecordFailure("10.0.0.1", null);
        _tracker.RecordFailure("10.0.0.1", null);
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(0, _tracker.Failures(AuthenticationFailureTracker.IpKind, "10.0.0.1"));
        Assert.Equal(1, _tracker.RecordFailure("10.0.0.1", null));
        Assert.Empty(_crossings);
    }

    [Fact]
    public void RecordFailure_MaxTrackedReached_NewKeysIgnoredUntilWindowsExpire()
    {
        _tracker.RecordFailure("10.0.0.1", null);
        _tracker.RecordFailure("10.0.0.2", null);

        Assert.Equal(0, _tracker.RecordFailure("10.0.0.3", null));
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, _tracker.RecordFailure("10.0.0.3", null));
    }
}
