using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Edge.AuditWriter.Tests.Protection;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests.Ingest;

public sealed class IngestMetricsTests
{
    [Fact]
    public async Task Ingest_StoredReplayedAndRefusedBatches_CountedByResultWithOnlyNewRecordsAndOneCommitPerStoredBatch()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var measurements = new WriterMeasurements(writer.Services.GetRequiredService<IMeterFactory>());
        var first = Enumerable.Range(0, 3).Select(i => WriterFixture.Leaf($"metrics{i}", "acme")).ToList();

        Assert.Equal(HttpStatusCode.OK, (await writer.IngestAsync(first, 3)).StatusCode);
        // A shipper's retry of the first batch with one more record: only that one is new.
        Assert.Equal(HttpStatusCode.OK, (await writer.IngestAsync([.. first, WriterFixture.Leaf("metrics3", "acme")], 4)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await writer.IngestAsync([Encoding.UTF8.GetBytes("{\"specversion\":")], 5)).StatusCode);

        Assert.Equal(2, measurements.Sum("edge.audit.ingest.batches", "stored"));
        Assert.Equal(1, measurements.Sum("edge.audit.ingest.batches", "refused"));
        Assert.Equal(0, measurements.Sum("edge.audit.ingest.batches", "unavailable"));
        Assert.Equal(4, measurements.Sum("edge.audit.ingest.records"));

        Assert.Equal(2, measurements.Observed("edge.audit.ingest.commits"));

        using var anonymous = writer.Client();
        var scrape = await anonymous.GetStringAsync("/metrics");
        Assert.Contains("edge_audit_ingest_batches_total", scrape, StringComparison.Ordinal);
        Assert.Contains("edge_audit_ingest_records_total", scrape, StringComparison.Ordinal);
        Assert.Contains("edge_audit_ingest_commits_total", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_RecordsReusingStoredIds_CountedAsDuplicates()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var measurements = new WriterMeasurements(writer.Services.GetRequiredService<IMeterFactory>());
        var first = Enumerable.Range(0, 3).Select(i => WriterFixture.Leaf($"dup{i}", "acme")).ToList();

        Assert.Equal(HttpStatusCode.OK, (await writer.IngestAsync(first, 3)).StatusCode);
        // A shipper's retry (same records) and a different record under a stored id (another tenant): both acknowledged,
        // neither stored; before, nothing told an operator that ids were being replayed.
        Assert.Equal(HttpStatusCode.OK, (await writer.IngestAsync([first[0], WriterFixture.Leaf("dup3", "acme")], 4)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await writer.IngestAsync([WriterFixture.Leaf("dup1", "globex")], 5)).StatusCode);

        Assert.Equal(4, measurements.Sum("edge.audit.ingest.records"));
        Assert.Equal(2, measurements.Sum("edge.audit.ingest.duplicates"));

        using var anonymous = writer.Client();
        Assert.Contains("edge_audit_ingest_duplicates_total", await anonymous.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_WithoutOrWithAWrongToken_CountedAsRefusedNotStored()
    {
        var variable = "EDGE_TEST_INGEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "ingest-token-0123456789");
        await using var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:IngestToken=env:{variable}"]);
        using var measurements = new WriterMeasurements(writer.Services.GetRequiredService<IMeterFactory>());

        using var missing = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1);
        using var wrong = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1, token: "ingest-token-0123456780");

        // A 401 (its WWW-Authenticate wrapper) was counted as stored: a flood of unauthenticated posts read as batches stored.
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(0, measurements.Sum("edge.audit.ingest.batches", "stored"));
        Assert.Equal(2, measurements.Sum("edge.audit.ingest.batches", "refused"));
        Assert.Equal(0, measurements.Sum("edge.audit.ingest.records"));
    }

    [Fact]
    public async Task Metrics_OpenMetricsScrape_TargetInfoNamesTheWriter()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var anonymous = writer.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");

        using var response = await anonymous.SendAsync(request);

        // Before, unknown_service:dotnet, as the edge's: a scrape could not tell the two apart by target_info.
        Assert.Matches("target_info\\{[^}]*service_name=\"edge-audit-writer\"", await response.Content.ReadAsStringAsync());
    }
}
