using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Edge.Proxy.Auditing;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.FunctionalTests.Observability;

public sealed class ObservabilityExtensionsTests
{
    [Fact]
    public async Task AddEdgeObservability_TwoEdgesInOneProcess_EachExportsOnlyItsOwnMetrics()
    {
        // Meters are process-wide and the SDK took every meter of a name: each edge's scrape held the other's counts, and
        // an observable instrument read whichever edge's callback ran last (a failed spool's failures read 0).
        using var backend = Backend.Start();
        var config = ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") });
        await using var first = await EdgeHost.StartAsync(config, new Dictionary<string, string?> { ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/" });
        await using var second = await EdgeHost.StartAsync(config, new Dictionary<string, string?> { ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/" });
        Assert.True(await first.Services.GetRequiredService<SpoolAuditSink>().Spool.TryAppendAsync(new byte[100_000]));
        for (var i = 0; i < 3; i++)
        {
            using var response = await first.Client.GetAsync($"/r/{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var firstMetrics = await first.Management.GetStringAsync("/metrics");
        var secondMetrics = await second.Management.GetStringAsync("/metrics");

        Assert.True(SpoolBytes(firstMetrics) >= 100_000, firstMetrics);
        Assert.True(SpoolBytes(secondMetrics) < 100_000, secondMetrics);
        Assert.Contains("edge_requests_total{", firstMetrics, StringComparison.Ordinal);
        Assert.DoesNotContain("edge_requests_total{", secondMetrics, StringComparison.Ordinal);
    }

    private static double SpoolBytes(string metrics) =>
        double.Parse(
            Regex.Match(metrics, @"^edge_audit_spool_bytes\{[^}]*\} (\S+)", RegexOptions.Multiline).Groups[1].Value,
            CultureInfo.InvariantCulture);

    [Fact]
    public async Task AddEdgeObservability_TwoEdgesInOneProcess_EachLogsThroughItsOwnSinks()
    {
        // Serilog's static logger was each edge's logger: every edge in the process wrote through the one started last,
        // and disposing any edge closed it for all (lines of one test's edge landed in another test's file or nowhere).
        var firstLog = LogFile.NewPath();
        var secondLog = LogFile.NewPath();
        using var backend = Backend.Start();
        var config = ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") });
        try
        {
            await using (var first = await EdgeHost.StartAsync(config, LogFile.Settings(firstLog)))
            {
                await using (var second = await EdgeHost.StartAsync(config, LogFile.Settings(secondLog)))
                {
                    first.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Edge.Test").LogWarning("from the first edge");
                }

                first.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Edge.Test").LogWarning("after the second edge stopped");
            }

            var firstLines = await LogFile.ReadLinesAsync(firstLog);
            Assert.Contains("Edge.Test|Warning|from the first edge", firstLines);
            Assert.Contains("Edge.Test|Warning|after the second edge stopped", firstLines);
            Assert.DoesNotContain(await LogFile.ReadLinesAsync(secondLog), line => line.StartsWith("Edge.Test|", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(firstLog);
            File.Delete(secondLog);
        }
    }
}
