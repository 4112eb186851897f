using System.Diagnostics.Metrics;
using Edge.Proxy.Observability;
using Edge.Proxy.Tests.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Observability;

public sealed class ManagementRefusalsTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly CapturedLogs _logs = new();
    private readonly List<(long Value, string? Reason)> _counted = [];
    private readonly MeterListener _listener = new();
    private readonly ManagementRefusals _refusals;

    public ManagementRefusalsTests()
    {
        var metrics = new EdgeMetrics(_services.GetRequiredService<IMeterFactory>());
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name == "edge.management.refusals")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) => _counted.Add((value, tags.ToArray().Single(t => t.Key == "reason").Value as string)));
        _listener.Start();
        _refusals = new ManagementRefusals(metrics, _time, new Logger<ManagementAccess>(new LoggerFactory([_logs])));
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public void HostRefused_ManyWithinAMinute_OneWarningEveryRefusalCounted()
    {
        for (var i = 0; i < 1000; i++)
        {
            _refusals.HostRefused("rebind.example", "10.0.0.7");
        }

        var entry = Assert.Single(_logs.Entries);
        Assert.Equal((1700, LogLevel.Warning), (entry.Id.Id, entry.Level));
        Assert.Contains("rebind.example", entry.Message, StringComparison.Ordinal);
        Assert.Equal(1000, _counted.Where(c => c.Reason == ManagementAccess.HostNotAllowedCode).Sum(c => c.Value));
    }

    [Fact]
    public void HostRefused_AfterTheInterval_NextLineSaysHowManyWentUnlogged()
    {
        for (var i = 0; i < 5; i++)
        {
            _refusals.HostRefused("rebind.example", "10.0.0.7");
        }

        _time.Advance(ManagementRefusals.LogInterval);
        _refusals.HostRefused("other.example", "10.0.0.8");

        Assert.Equal(2, _logs.Entries.Count);
        var second = _logs.Values.Last().Values;
        Assert.Equal(4L, second.Single(v => v.Key == "Unlogged").Value);
        Assert.Equal("other.example", second.Single(v => v.Key == "Host").Value);
    }

    [Fact]
    public void TokenRefusedAndHostRefused_SeparateWindows_EachLogsItsFirst()
    {
        _refusals.HostRefused("rebind.example", null);
        _refusals.TokenRefused("10.0.0.9");
        _refusals.TokenRefused("10.0.0.9");
        _refusals.TokenMissing();

        Assert.Equal([1700, 1701], _logs.Entries.Select(e => e.Id.Id));
        Assert.Equal(2, _counted.Where(c => c.Reason == ManagementAccess.TokenInvalidCode).Sum(c => c.Value));
        Assert.Equal(1, _counted.Where(c => c.Reason == ManagementAccess.TokenRequiredCode).Sum(c => c.Value));
    }
}
