using System.Diagnostics.Metrics;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Tests.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Auditing;

/// <summary>Records lost at the spool's cap: all counted, logged at most once a minute.</summary>
public sealed class SpoolAuditSinkDropLogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-spool-drops-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task RecordAsync_SpoolAtCapAndUnroutedRequestsKeepComing_OneErrorPerMinuteWithTheCountSkipped()
    {
        // At the cap each request no route took wrote Error 1501: any client sending 404s wrote a log line per request.
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var logs = new CapturedLogs();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var options = Options.Create(new EdgeAuditOptions { WriterUrl = "http://127.0.0.1:1", SpoolPath = _directory, SpoolMaxBytes = 1 });
        await using var sink = new SpoolAuditSink(options, new EdgeHostOptions { InstanceId = "edge-test" }, time,
            services.GetRequiredService<IMeterFactory>(), new LoggerFactory([logs]).CreateLogger<SpoolAuditSink>());

        for (var i = 0; i < 50; i++)
        {
            await sink.RecordAsync(Unrouted(), Request("r" + i));
        }

        Assert.Single(logs.Entries, e => e.Id.Id == 1501);

        time.Advance(SpoolAuditSink.LogInterval);
        await sink.RecordAsync(Unrouted(), Request("late"));

        var dropped = logs.Values.Where(e => e.Id.Id == 1501).ToList();
        Assert.Equal(2, dropped.Count);
        Assert.Equal(49L, dropped[1].Values.Single(v => v.Key == "Unlogged").Value);
        Assert.Equal(51, sink.Spool.Metrics.Dropped);
    }

    private static DefaultHttpContext Unrouted()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/nothing";
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return context;
    }

    private static EdgeRequestFeature Request(string id)
    {
        var request = new EdgeRequestFeature { RequestId = id, RouteId = null, StartedAt = DateTimeOffset.UnixEpoch };
        request.Deny("Edge", "not_found");
        return request;
    }
}
