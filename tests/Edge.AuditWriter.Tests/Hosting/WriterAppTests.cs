using System.Net;
using System.Text.Json;
using Edge.AuditWriter.Hosting;
using Microsoft.Data.Sqlite;

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

    [Theory]
    [InlineData("--Writer:Autentication=auditors", "Writer:Autentication is not a host setting; did you mean Writer:Authentication?")]
    [InlineData("--Writer:Retention:Defualt=30.00:00:00", "Writer:Retention:Defualt is not a host setting; did you mean Writer:Retention:Default?")]
    [InlineData("--Writer:IngestTokn=env:EDGE_TOKEN", "Writer:IngestTokn is not a host setting; did you mean Writer:IngestToken?")]
    public void Build_MisspeltWriterSetting_RefusedNamingTheClosest(string setting, string expected)
    {
        // Before: ignored like any unused key. A misspelt Retention:Default kept every record's body forever, a misspelt
        // Authentication left the read API answering 401 to every auditor, and the writer started as if all was set.
        var directory = Directory.CreateTempSubdirectory("edge-writer-settings-").FullName;
        try
        {
            var refused = Assert.Throws<InvalidOperationException>(() => WriterApp.Build(
            [
                "--urls", "http://127.0.0.1:0",
                $"--Writer:StorePath={Path.Combine(directory, "audit.db")}",
                $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}",
                $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
                setting,
            ]));

            Assert.StartsWith(expected, refused.Message, StringComparison.Ordinal);
            Assert.True(Edge.Configuration.HostSettings.Names(refused));
            Assert.False(File.Exists(Path.Combine(directory, "writer.key")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    public void Build_MaxConcurrentIngestsNotPositive_RefusedNamingTheSetting(string value)
    {
        // No slot at all would answer every batch 503 ingest_busy, and the edges would retry it for ever.
        var directory = Directory.CreateTempSubdirectory("edge-writer-settings-").FullName;
        try
        {
            var refused = Assert.Throws<InvalidOperationException>(() => WriterApp.Build(
            [
                "--urls", "http://127.0.0.1:0",
                $"--Writer:StorePath={Path.Combine(directory, "audit.db")}",
                $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}",
                $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
                $"--Writer:MaxConcurrentIngests={value}",
            ]));

            Assert.Equal($"Writer:MaxConcurrentIngests must be positive (default 16), not {value}.", refused.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Build_RetentionTenantsAndAdditionalKeys_AreKnownSettings()
    {
        var directory = Directory.CreateTempSubdirectory("edge-writer-settings-").FullName;
        try
        {
            using var app = WriterApp.Build(
            [
                "--urls", "http://127.0.0.1:0",
                $"--Writer:StorePath={Path.Combine(directory, "audit.db")}",
                $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}",
                $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
                "--Writer:Retention:Default=30.00:00:00",
                "--Writer:Retention:Tenants:acme=7.00:00:00",
                "--writer:publictiles=true",
            ]);

            Assert.True(File.Exists(Path.Combine(directory, "writer.key")));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
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
    public async Task Metrics_ScrapeBeforeAnyRetentionRun_RetentionCountersPresentAtZero()
    {
        // Absent until the first run: the failed series appeared at 1 with the first failure, increase() over it was 0, and
        // EdgeAuditRetentionFailing did not fire for a writer whose only failed run was that one.
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();

        var scrape = await client.GetStringAsync("/metrics");

        foreach (var result in new[] { "applied", "failed" })
        {
            Assert.Matches($"(?m)^edge_audit_retention_runs_total\\{{[^}}]*result=\"{result}\"[^}}]*\\}} 0( |$)", scrape);
        }

        foreach (var counter in new[] { "edge_audit_retention_pruned_total", "edge_audit_retention_subjects_shredded_total", "edge_audit_erasure_records_total", "edge_audit_erasure_refusals_unrecorded_total" })
        {
            Assert.Matches($"(?m)^{counter}(\\{{[^}}]*\\}})? 0( |$)", scrape);
        }
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
