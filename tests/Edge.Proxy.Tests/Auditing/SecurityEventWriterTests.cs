using Edge.Audit.Records;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Tests.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Auditing;

public sealed class SecurityEventWriterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-security-events-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task AppendAsync_LocalQueueFull_EachDroppedEventCountedOnce()
    {
        // The local file counted the refusal in its append and again when the writer reported it: 21 events refused by a
        // full queue showed as 42 in edge_audit_dropped_total.
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var file = LocalFile(time);
        var writer = new SecurityEventWriter(file, new EdgeHostOptions { InstanceId = "edge-test" }, time, NullLogger<SecurityEventWriter>.Instance);

        for (var i = 0; i < 22; i++)
        {
            await writer.AppendAsync(Event(writer, AuditEventTypes.ResponseIncomplete));
        }

        Assert.Equal(21, file.Dropped);
    }

    [Fact]
    public async Task AppendAsync_QueueFullWhileEventsKeepComing_OneErrorPerTypePerMinuteWithTheCountSkipped()
    {
        // A client breaking off downloads makes one response.incomplete event per request; with the queue (or the spool)
        // full, each wrote Error 1505.
        using var logs = new CapturedLogs();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var file = LocalFile(time);
        var writer = new SecurityEventWriter(file, new EdgeHostOptions { InstanceId = "edge-test" }, time, new LoggerFactory([logs]).CreateLogger<SecurityEventWriter>());

        for (var i = 0; i < 20; i++)
        {
            await writer.AppendAsync(Event(writer, AuditEventTypes.ResponseIncomplete));
        }

        await writer.AppendAsync(Event(writer, AuditEventTypes.ConfigApplied));
        Assert.Equal([AuditEventTypes.ResponseIncomplete, AuditEventTypes.ConfigApplied], Types(logs));

        time.Advance(SecurityEventWriter.LogInterval);
        await writer.AppendAsync(Event(writer, AuditEventTypes.ResponseIncomplete));

        var lines = logs.Values.Where(e => e.Id.Id == 1505).ToList();
        Assert.Equal(3, lines.Count);
        Assert.Equal(18L, lines[2].Values.Single(v => v.Key == "Unlogged").Value);
    }

    private LocalFileAuditSink LocalFile(TimeProvider time) => new(
        Options.Create(new EdgeAuditOptions { LocalFile = Path.Combine(_directory, "events.ndjson"), LocalQueueCapacity = 1 }),
        new EdgeHostOptions(), time, NullLogger<LocalFileAuditSink>.Instance, open: null);

    private static AuditRecord Event(SecurityEventWriter writer, string type) => writer.NewRecord(type, "incomplete", "Edge", null, []);

    private static List<object?> Types(CapturedLogs logs) =>
        logs.Values.Where(e => e.Id.Id == 1505).Select(e => e.Values.Single(v => v.Key == "Type").Value).ToList();
}
