using System.Net;
using System.Text.Json;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.AuditWriter.Tests;
using Edge.Testing;

namespace Edge.FunctionalTests.Auditing;

public sealed class SpoolQuarantineTests
{
    [Fact]
    public async Task EdgeRoute_RecordOverTheWritersRecordCap_LaterRecordsShipAndTheTrailNamesTheQuarantinedOne()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxRecordBytes=1500"]);
        var spoolDirectory = Path.Combine(writer.Directory, "edge-spool");
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }),
            new Dictionary<string, string?>
            {
                ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
                ["Edge:Audit:SpoolPath"] = spoolDirectory,
                ["Edge:Audit:ShipInterval"] = "00:00:00",
            });

        // A path any client may send makes a record over this writer's cap. Before, the writer refused every batch with
        // it, nothing after it shipped, and the spool filled until every audit-required route answered 503.
        using var large = await edge.Client.GetAsync("/r/" + new string('x', 2000));
        Assert.Equal(HttpStatusCode.OK, large.StatusCode);
        var largeId = large.Headers.GetValues("X-Request-Id").Single();
        using var after = await edge.Client.GetAsync("/r/after");
        var afterId = after.Headers.GetValues("X-Request-Id").Single();

        List<(string Id, string Type, JsonElement Data)> stored = [];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!stored.Any(r => r.Type == AuditEventTypes.RecordQuarantined) || !stored.Any(r => r.Id == afterId))
        {
            await Task.Delay(50, timeout.Token);
            using var store = AuditStore.OpenReadOnly(writer.StorePath);
            stored = store.Export(new RecordQuery()).Select(r =>
            {
                using var document = JsonDocument.Parse(r.Leaf);
                return (r.Id, document.RootElement.GetProperty("type").GetString()!, document.RootElement.GetProperty("data").Clone());
            }).ToList();
        }

        Assert.DoesNotContain(stored, r => r.Id == largeId);
        var quarantined = stored.Single(r => r.Type == AuditEventTypes.RecordQuarantined).Data;
        Assert.Equal("record_too_large", quarantined.GetProperty("reason").GetString());
        var attributes = quarantined.GetProperty("attributes");
        Assert.Equal(largeId, attributes.GetProperty("recordId").GetString());
        Assert.Equal(AuditEventTypes.Request, attributes.GetProperty("recordType").GetString());
        var file = Path.Combine(spoolDirectory, "quarantine", attributes.GetProperty("file").GetString()!);
        using var kept = JsonDocument.Parse(await File.ReadAllBytesAsync(file));
        Assert.Equal(largeId, kept.RootElement.GetProperty("id").GetString());
    }
}
