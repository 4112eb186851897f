using Edge.Audit.Spool;
using Edge.Proxy.Auditing;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Proxy.Tests.Auditing;

/// <summary>
/// The approval step and the approvals API check <see cref="ApprovalAuditEventSink.CanRecord"/> before they open,
/// approve, reject or consume an approval, then record it. When the spool filled in between (other requests appending
/// at the same moment), the record was refused at the cap: an approver held a token the trail did not show.
/// </summary>
public sealed class ApprovalAuditEventSinkTests : IAsyncDisposable
{
    private const int Cap = 64 * 1024;
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-approval-sink-").FullName;

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(nameof(ApprovalEventKind.Requested))]
    [InlineData(nameof(ApprovalEventKind.Approved))]
    [InlineData(nameof(ApprovalEventKind.Rejected))]
    [InlineData(nameof(ApprovalEventKind.Consumed))]
    public async Task RecordAsync_SpoolFilledAfterTheCheck_DecisionStillRecorded(string kind)
    {
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = _directory, MaxBytes = Cap, SegmentBytes = Cap / 2 });
        var sink = Sink(spool);
        Assert.True(sink.CanRecord);
        await FillToTheCapAsync(spool);
        var before = spool.DurableSequence;

        await sink.RecordAsync(Event(Enum.Parse<ApprovalEventKind>(kind)));

        Assert.Equal(before + 1, spool.DurableSequence);
    }

    [Theory]
    [InlineData(nameof(ApprovalEventKind.Invalid))]
    [InlineData(nameof(ApprovalEventKind.Mismatch))]
    [InlineData(nameof(ApprovalEventKind.Expired))]
    [InlineData(nameof(ApprovalEventKind.Refused))]
    public async Task RecordAsync_AttemptAtTheCap_DroppedAndCounted(string kind)
    {
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = _directory, MaxBytes = Cap, SegmentBytes = Cap / 2 });
        await FillToTheCapAsync(spool);
        var before = spool.DurableSequence;

        await Sink(spool).RecordAsync(Event(Enum.Parse<ApprovalEventKind>(kind)));

        Assert.Equal(before, spool.DurableSequence);
        Assert.Equal(1, spool.Metrics.Dropped);
    }

    private static ApprovalAuditEventSink Sink(AuditSpool spool) => new(
        new SecurityEventWriter(new SpoolEventAppender(spool), new EdgeHostOptions { InstanceId = "edge-test" }, TimeProvider.System, NullLogger<SecurityEventWriter>.Instance),
        NullLogger<ApprovalAuditEventSink>.Instance);

    private static ApprovalEvent Event(ApprovalEventKind kind) =>
        new(kind, "apr_1", "payments", "payments", "acme", "hash", "alice", "bob", "bob", "POST", "/payments/1") { Refusal = kind == ApprovalEventKind.Refused ? "approval_self" : null };

    internal static async Task FillToTheCapAsync(AuditSpool spool)
    {
        var filler = new byte[200];
        Array.Fill(filler, (byte)'x');
        while (await spool.TryAppendAsync(filler))
        {
        }
    }
}
