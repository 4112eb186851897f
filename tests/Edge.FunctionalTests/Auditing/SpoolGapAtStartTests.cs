using System.Globalization;
using System.Text.Json;
using Edge.Audit.Records;
using Edge.Audit.Spool;
using Edge.Audit.Storage;
using Edge.AuditWriter.Tests;
using Edge.Testing;

namespace Edge.FunctionalTests.Auditing;

public sealed class SpoolGapAtStartTests
{
    [Fact]
    public async Task EdgeStart_SpoolSegmentMovedOutWhileStopped_RecordsTheLossInTheTrailAndTheMetric()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        var spoolDirectory = Path.Combine(writer.Directory, "edge-spool");
        await using (var earlier = await AuditSpool.OpenAsync(new SpoolOptions { Directory = spoolDirectory, SegmentBytes = 4 * 1024 }))
        {
            for (var i = 0; i < 60; i++)
            {
                Assert.True(await earlier.TryAppendAsync(WriterFixture.Leaf($"g{i:D2}", "acme")));
            }
        }

        // Records given up with the edge stopped (a segment moved out, or one a restart found cut while shipping had
        // stopped at it): the start reads past them. Before, only log line 1543 said so; the writer's log, which an auditor
        // reads, had no trace that records of this edge were missing, and no metric counted them.
        var segments = Directory.GetFiles(spoolDirectory, "*.seg").Order().ToList();
        Assert.True(segments.Count > 2);
        var movedFrom = long.Parse(Path.GetFileNameWithoutExtension(segments[1]), CultureInfo.InvariantCulture);
        var nextFrom = long.Parse(Path.GetFileNameWithoutExtension(segments[2]), CultureInfo.InvariantCulture);
        File.Move(segments[1], Path.Combine(writer.Directory, "moved-out.seg"));

        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r") }),
            new Dictionary<string, string?>
            {
                ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
                ["Edge:Audit:SpoolPath"] = spoolDirectory,
                ["Edge:Audit:ShipInterval"] = "00:00:00",
                ["Edge:InstanceId"] = "edge-gap",
            });

        AuditRecordView? lost = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (lost is null)
        {
            await Task.Delay(50, timeout.Token);
            using var store = AuditStore.OpenReadOnly(writer.StorePath);
            lost = store.Export(new RecordQuery()).Select(r => AuditRecordView.Parse(r.Leaf)).FirstOrDefault(r => r.Type == AuditEventTypes.SpoolRecordsLost);
        }

        Assert.Equal("lost", lost.Decision);
        Assert.Equal("spool_gap", lost.Reason);
        Assert.Equal(movedFrom.ToString(CultureInfo.InvariantCulture), lost.Attributes["expectedSequence"]);
        Assert.Equal(nextFrom.ToString(CultureInfo.InvariantCulture), lost.Attributes["foundSequence"]);
        Assert.Equal((nextFrom - movedFrom).ToString(CultureInfo.InvariantCulture), lost.Attributes["missing"]);
        Assert.Equal(Path.GetFileName(segments[2]), lost.Attributes["segment"]);

        var metric = "";
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            metric = string.Join('\n', (await edge.Management.GetStringAsync("/metrics")).Split('\n').Where(l => l.StartsWith("edge_audit_spool_lost_total", StringComparison.Ordinal)));
            if (metric.EndsWith(" " + (nextFrom - movedFrom).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal))
            {
                break;
            }
        }

        Assert.EndsWith(" " + (nextFrom - movedFrom).ToString(CultureInfo.InvariantCulture), metric, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EdgeStart_DamagedFrameInAnEarlierSegment_RecordsTheLossAndShipsEveryOtherRecord()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        var spoolDirectory = Path.Combine(writer.Directory, "edge-spool");
        var leaves = Enumerable.Range(0, 60).Select(i => WriterFixture.Leaf($"d{i:D2}", "acme")).ToList();
        await using (var earlier = await AuditSpool.OpenAsync(new SpoolOptions { Directory = spoolDirectory, SegmentBytes = 4 * 1024 }))
        {
            foreach (var leaf in leaves)
            {
                Assert.True(await earlier.TryAppendAsync(leaf));
            }
        }

        // A byte of the third record flipped on disk while the edge was stopped. Before, shipping stopped at it for good
        // and the 57 records after it never reached the writer.
        var segments = Directory.GetFiles(spoolDirectory, "*.seg").Order().ToList();
        Assert.True(segments.Count > 1);
        var bytes = await File.ReadAllBytesAsync(segments[0]);
        bytes[leaves.Take(2).Sum(l => 24 + l.Length) + 24 + 10] ^= 0xFF;
        await File.WriteAllBytesAsync(segments[0], bytes);

        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r") }),
            new Dictionary<string, string?>
            {
                ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
                ["Edge:Audit:SpoolPath"] = spoolDirectory,
                ["Edge:Audit:ShipInterval"] = "00:00:00",
                ["Edge:InstanceId"] = "edge-damage",
            });

        List<AuditRecordView> stored = [];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!stored.Any(r => r.Type == AuditEventTypes.SpoolRecordsLost) || stored.Count(r => r.Id.StartsWith('d')) < 59)
        {
            await Task.Delay(50, timeout.Token);
            using var store = AuditStore.OpenReadOnly(writer.StorePath);
            stored = [.. store.Export(new RecordQuery()).Select(r => AuditRecordView.Parse(r.Leaf))];
        }

        Assert.Equal(Enumerable.Range(0, 60).Where(i => i != 2).Select(i => $"d{i:D2}"), stored.Where(r => r.Id.StartsWith('d')).Select(r => r.Id).Order());
        var lost = Assert.Single(stored, r => r.Type == AuditEventTypes.SpoolRecordsLost);
        Assert.Equal("spool_gap", lost.Reason);
        Assert.Equal("3", lost.Attributes["expectedSequence"]);
        Assert.Equal("4", lost.Attributes["foundSequence"]);
        Assert.Equal("1", lost.Attributes["missing"]);
        Assert.Equal(Path.GetFileName(segments[0]), lost.Attributes["segment"]);
    }

    /// <summary>The members of a stored leaf this test reads.</summary>
    private sealed record AuditRecordView(string Id, string Type, string? Decision, string? Reason, Dictionary<string, string> Attributes)
    {
        public static AuditRecordView Parse(byte[] leaf)
        {
            using var document = JsonDocument.Parse(leaf);
            var root = document.RootElement;
            var data = root.GetProperty("data");
            var attributes = data.TryGetProperty("attributes", out var a)
                ? a.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "")
                : [];
            return new AuditRecordView(
                root.GetProperty("id").GetString()!,
                root.GetProperty("type").GetString()!,
                data.TryGetProperty("decision", out var d) ? d.GetString() : null,
                data.TryGetProperty("reason", out var r) ? r.GetString() : null,
                attributes);
        }
    }
}
