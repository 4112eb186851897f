using System.Net;
using System.Text.Json;

namespace Edge.AuditWriter.Tests.Hosting;

public sealed class WriterAppTests
{
    [Theory]
    [InlineData("POST")]
    [InlineData("DELETE")]
    [InlineData("PUT")]
    public async Task Metrics_MethodOtherThanGetOrHead_Returns405WithAllow(string method)
    {
        // The scrape endpoint took any method: DELETE /metrics answered 200 with the scrape, as the edge's did before.
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/metrics"));
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("method_not_allowed", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(["GET", "HEAD"], response.Content.Headers.Allow.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Metrics_HeadRequest_Returns200()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/metrics"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/audit/checkpoint")]
    [InlineData("/audit/key")]
    [InlineData("/metrics")]
    [InlineData("/audit/records")]
    [InlineData("/no-such-path")]
    public async Task AnyAnswer_CarriesNosniff(string path)
    {
        // JSON, CSV and tile answers went out without it; only the pages had it.
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();

        using var response = await client.GetAsync(path);

        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task Metrics_ScrapeBeforeAnyBatch_IngestCountersPresentAtZero()
    {
        // Absent until the first batch: rate() had no series to start from, and an absent() alert fired on every new writer.
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();

        var scrape = await client.GetStringAsync("/metrics");

        foreach (var result in new[] { "stored", "refused", "unavailable" })
        {
            Assert.Matches($"(?m)^edge_audit_ingest_batches_total\\{{[^}}]*result=\"{result}\"[^}}]*\\}} 0( |$)", scrape);
        }

        Assert.Matches("(?m)^edge_audit_ingest_records_total(\\{[^}]*\\})? 0( |$)", scrape);
    }

    [Fact]
    public async Task Metrics_TwoWritersInOneProcess_EachScrapesOnlyItsOwnCounts()
    {
        // Meters are process-wide and the SDK took every meter of the writer's name: a fresh writer's scrape read another
        // writer's stored batches, and these tests had to run alone.
        await using var first = await WriterFixture.StartAsync();
        await using var second = await WriterFixture.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await first.IngestAsync([.. Enumerable.Range(0, 3).Select(i => WriterFixture.Leaf($"own{i}", "acme"))], 3)).StatusCode);
        using var firstClient = first.Client();
        using var secondClient = second.Client();

        Assert.Matches("(?m)^edge_audit_ingest_records_total(\\{[^}]*\\})? 3( |$)", await firstClient.GetStringAsync("/metrics"));
        Assert.Matches("(?m)^edge_audit_ingest_records_total(\\{[^}]*\\})? 0( |$)", await secondClient.GetStringAsync("/metrics"));
    }
}
