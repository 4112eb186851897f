using Edge.Audit.Records;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
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

    private LocalFileAuditSink LocalFile(TimeProvider time) => new(
        Options.Create(new EdgeAuditOptions { LocalFile = Path.Combine(_directory, "events.ndjson"), LocalQueueCapacity = 1 }),
        new EdgeHostOptions(), time, NullLogger<LocalFileAuditSink>.Instance, open: null);

    private static AuditRecord Event(SecurityEventWriter writer, string type) => writer.NewRecord(type, "incomplete", "Edge", null, []);
}
