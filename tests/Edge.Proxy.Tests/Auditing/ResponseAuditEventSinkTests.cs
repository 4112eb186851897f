using Edge.Audit.Spool;
using Edge.Proxy.Auditing;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Proxy.Tests.Auditing;

/// <summary>
/// A response cut short and a tunnel's end complete the record of their request, which may have been admitted long
/// before the spool reached its cap (a WebSocket open for hours). They are kept past the cap exactly when that request
/// was admitted; a request let through at the cap (an optional route) has its follow-up records dropped and counted.
/// </summary>
public sealed class ResponseAuditEventSinkTests : IAsyncDisposable
{
    private const int Cap = 64 * 1024;
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-response-sink-").FullName;

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TunnelClosedAsync_SpoolAtItsCap_KeptExactlyWhenTheRequestWasAdmitted(bool admitted)
    {
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = _directory, MaxBytes = Cap, SegmentBytes = Cap / 2 });
        await ApprovalAuditEventSinkTests.FillToTheCapAsync(spool);
        var before = spool.DurableSequence;

        await Sink(spool).TunnelClosedAsync(new DefaultHttpContext(), Request(admitted), new TunnelEnd("client_closed", null, 10, 7, TimeSpan.FromHours(2)));

        Assert.Equal(admitted ? (before + 1, 0L) : (before, 1L), (spool.DurableSequence, spool.Metrics.Dropped));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Incomplete_SpoolAtItsCap_KeptExactlyWhenTheRequestWasAdmitted(bool admitted)
    {
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = _directory, MaxBytes = Cap, SegmentBytes = Cap / 2 });
        await ApprovalAuditEventSinkTests.FillToTheCapAsync(spool);
        var before = spool.DurableSequence;

        // Not awaited by the caller, but done when it returns: the spool (ProcessCrash) writes on the caller's thread.
        Sink(spool).Incomplete(Request(admitted), 200, "ResponseBodyDestination", clientSideReason: null);

        Assert.Equal(admitted ? (before + 1, 0L) : (before, 1L), (spool.DurableSequence, spool.Metrics.Dropped));
    }

    private static ResponseAuditEventSink Sink(AuditSpool spool) => new(
        new SecurityEventWriter(new SpoolEventAppender(spool), new EdgeHostOptions { InstanceId = "edge-test" }, TimeProvider.System, NullLogger<SecurityEventWriter>.Instance));

    private static EdgeRequestFeature Request(bool admitted) =>
        new() { RequestId = "req-1", RouteId = "ws", StartedAt = DateTimeOffset.UnixEpoch, RecordAdmitted = admitted };
}
