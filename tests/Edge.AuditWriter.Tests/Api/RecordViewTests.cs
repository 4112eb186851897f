using Edge.Audit.Storage;
using Edge.AuditWriter.Api;
using Edge.AuditWriter.Log;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests.Api;

public sealed class RecordViewTests
{
    [Fact]
    public async Task DisplayPrincipal_MoreSubjectsThanItsCapacity_HoldsAtMostCapacityKeysAndRevealsEveryRecord()
    {
        // A CSV export reads every record through one view: one data key per distinct subject (anonymous requests have one
        // per client address) stayed in memory for the whole export.
        await using var writer = await WriterFixture.StartAsync();
        var leaves = Enumerable.Range(0, 10).Select(i => WriterFixture.Leaf($"r{i}", "acme", principal: $"user-{i % 7}")).ToList();
        (await writer.IngestAsync(leaves, leaves.Count)).EnsureSuccessStatusCode();
        var log = writer.Services.GetRequiredService<AuditLog>();

        using var view = new RecordView(log, keyCapacity: 4);
        var shown = new List<string?>();
        var mostKeys = 0;
        foreach (var record in log.Store.Export(new RecordQuery()))
        {
            shown.Add(view.DisplayPrincipal(record));
            mostKeys = Math.Max(mostKeys, view.CachedKeys);
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"user-{i % 7}"), shown);
        Assert.InRange(mostKeys, 1, 4);
    }
}
