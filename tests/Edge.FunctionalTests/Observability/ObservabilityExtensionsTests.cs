using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.FunctionalTests.Observability;

public sealed class ObservabilityExtensionsTests
{
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
