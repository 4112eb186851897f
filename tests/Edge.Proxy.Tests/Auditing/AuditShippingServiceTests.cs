using System.Diagnostics.Metrics;
using System.Text;
using Edge.Audit.Shipping;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Tests.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Tests.Auditing;

/// <summary>The shutdown drain's account of the records the writer did not acknowledge.</summary>
public sealed class AuditShippingServiceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-shipping-service-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task StopAsync_WriterUnreachable_SaysTheRecordsStayInTheSpool()
    {
        using var logs = new CapturedLogs();
        await using var run = await StartAsync(logs);

        await run.Service.StopAsync(CancellationToken.None);

        var entry = Assert.Single(logs.Entries, e => e.Id.Id == 1504);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("3 spooled records", entry.Message, StringComparison.Ordinal);
        Assert.Contains("stay in the spool", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StopAsync_SpoolDirectoryRemovedWithRecordsUnshipped_SaysTheyAreLostAndWhatToDo()
    {
        using var logs = new CapturedLogs();
        await using var run = await StartAsync(logs);
        Directory.Delete(run.SpoolPath, recursive: true);

        await run.Service.StopAsync(CancellationToken.None);

        // Before: 1504 said the records "stay in the spool", with the spool's files gone and the records only in this
        // process's memory, lost when it exits.
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("stay in the spool", StringComparison.Ordinal));
        var entry = Assert.Single(logs.Entries, e => e.Id.Id == 1547);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Contains(run.SpoolPath, entry.Message, StringComparison.Ordinal);
        Assert.Contains("3 spooled records", entry.Message, StringComparison.Ordinal);
        Assert.Contains("lost", entry.Message, StringComparison.Ordinal);
    }

    private async Task<Run> StartAsync(CapturedLogs logs)
    {
        var spoolPath = Path.Combine(_directory, "spool");
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var loggers = new LoggerFactory([logs]);
        // Nothing listens on port 1: every post fails, and the drain ends at its timeout.
        var options = Options.Create(new EdgeAuditOptions { WriterUrl = "http://127.0.0.1:1", SpoolPath = spoolPath, DrainTimeout = TimeSpan.FromMilliseconds(200) });
        var host = new EdgeHostOptions { InstanceId = "edge-test" };
        var sink = new SpoolAuditSink(options, host, TimeProvider.System, services.GetRequiredService<IMeterFactory>(), loggers.CreateLogger<SpoolAuditSink>());
        await sink.Spool.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await sink.Spool.TryAppendAsync(Encoding.UTF8.GetBytes($"{{\"id\":\"r{i}\"}}")));
        }

        var events = new SecurityEventWriter(new SpoolEventAppender(sink.Spool), host, TimeProvider.System, loggers.CreateLogger<SecurityEventWriter>());
        var service = new AuditShippingService(sink, events, options, TimeProvider.System, services.GetRequiredService<IMeterFactory>(), loggers.CreateLogger<AuditShipper>());
        await service.StartAsync(CancellationToken.None);
        return new Run(service, sink, services, loggers, spoolPath);
    }

    private sealed record Run(AuditShippingService Service, SpoolAuditSink Sink, ServiceProvider Services, LoggerFactory Loggers, string SpoolPath) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Service.DisposeAsync();
            await Sink.DisposeAsync();
            await Services.DisposeAsync();
            Loggers.Dispose();
        }
    }
}
