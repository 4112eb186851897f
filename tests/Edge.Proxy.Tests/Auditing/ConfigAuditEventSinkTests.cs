using System.Text;
using Edge.Audit.Spool;
using Edge.Proxy.Auditing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Auditing;

public sealed class ConfigAuditEventSinkTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-config-sink-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private AuditSpool _spool = null!;

    public async Task InitializeAsync()
    {
        // PowerLoss with a commit interval that only passes when the test advances the fake clock: an append completes
        // only after that fsync, so a sink that waits for it cannot return before the test moves time on.
        _spool = await AuditSpool.OpenAsync(
            new SpoolOptions { Directory = _directory, MaxBytes = 1024 * 1024, CommitInterval = TimeSpan.FromSeconds(1), Durability = SpoolDurability.PowerLoss },
            _time);
    }

    public async Task DisposeAsync()
    {
        await _spool.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task ConfigRefused_SpoolNotYetDurable_ReturnsWithoutWaitingAndRecordBecomesDurable()
    {
        var sink = new ConfigAuditEventSink(new SecurityEventWriter(new SpoolEventAppender(_spool), new EdgeHostOptions { InstanceId = "edge-test" }, _time, NullLogger<SecurityEventWriter>.Instance), new SecretRotationDetector(), NullLogger<ConfigAuditEventSink>.Instance);

        await Task.Run(() => sink.ConfigRefused([new ConfigError("ReverseProxy:Routes:a", "bad")])).WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);

        Assert.Equal(0, _spool.DurableSequence);
        // The spool's writer arms its commit delay on its own thread; keep moving the clock until it has fsynced.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_spool.DurableSequence < 1 && DateTime.UtcNow < deadline)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20);
        }

        Assert.Equal(1, _spool.DurableSequence);
        var record = Assert.Single(_spool.Read(_spool.CreateCursor(), 10, 1024 * 1024));
        var json = Encoding.UTF8.GetString(record.Payload);
        Assert.Contains("\"refused\"", json, StringComparison.Ordinal);
        Assert.Contains("config_invalid", json, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigApplied_NoWriterConfigured_WritesNothing()
    {
        var sink = new ConfigAuditEventSink(new SecurityEventWriter(null, new EdgeHostOptions(), _time, NullLogger<SecurityEventWriter>.Instance), new SecretRotationDetector(), NullLogger<ConfigAuditEventSink>.Instance);

        sink.ConfigApplied("1-abc", new string('0', 64), null, EdgeSection.Empty);

        Assert.Empty(_spool.Read(_spool.CreateCursor(), 10, 1024 * 1024));
    }
}
