using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Edge.Audit.Spool;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Tests.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Tests.Auditing;

/// <summary>What the spool's start found on disk, logged once after it started.</summary>
public sealed class SpoolAuditSinkRecoveryLogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-spool-recovery-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task LogRecoveryDamage_SegmentMovedOutWhileStopped_LogsTheGapAsErrorWithTheSequences()
    {
        await using (var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = _directory, SegmentBytes = 4 * 1024 }))
        {
            for (var i = 0; i < 100; i++)
            {
                Assert.True(await spool.TryAppendAsync(Encoding.UTF8.GetBytes($"{{\"id\":\"r{i:D3}\",\"pad\":\"{new string('x', 100)}\"}}")));
            }
        }

        var segments = Directory.GetFiles(_directory, "*.seg").Order().ToList();
        Assert.True(segments.Count > 2);
        File.Delete(segments[1]);
        var expected = long.Parse(Path.GetFileNameWithoutExtension(segments[1]), CultureInfo.InvariantCulture);
        var found = long.Parse(Path.GetFileNameWithoutExtension(segments[2]), CultureInfo.InvariantCulture);

        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var logs = new CapturedLogs();
        var options = Options.Create(new EdgeAuditOptions { WriterUrl = "http://127.0.0.1:1", SpoolPath = _directory });
        await using var sink = new SpoolAuditSink(options, new EdgeHostOptions { InstanceId = "edge-test" }, TimeProvider.System,
            services.GetRequiredService<IMeterFactory>(), new LoggerFactory([logs]).CreateLogger<SpoolAuditSink>());
        await sink.Spool.StartAsync();

        sink.LogRecoveryDamage();

        // Before, the start said nothing, and the shipper went on past the records the segment held.
        var entry = Assert.Single(logs.Entries, e => e.Id.Id == 1543);
        Assert.Equal(LogLevel.Error, entry.Level);
        var values = Assert.Single(logs.Values, e => e.Id.Id == 1543).Values.ToDictionary(v => v.Key, v => v.Value);
        Assert.Equal(segments[2], values["Segment"]);
        Assert.Equal(expected, values["Expected"]);
        Assert.Equal(found, values["Found"]);
        Assert.Equal(found - expected, values["Missing"]);
    }
}
