using System.Net;
using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.Pipeline;

public sealed class EdgeRequestMiddlewareLogTests
{
    [Fact]
    public async Task Request_BackendDownManyRequests_OneWarningLineNotOnePerRequest()
    {
        // YARP logged each failed backend call at Warning with its stack trace: 322 requests to a route whose backend was
        // down wrote 322 lines. Serilog writes to a file here (the console is shared by every test of the process).
        var log = LogFile.NewPath();
        var settings = LogFile.Settings(log);
        // Frozen: every request falls in the same minute of the log window.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        try
        {
            await using (var edge = await EdgeHost.StartAsync(
                ProxyJson.Create($"http://127.0.0.1:{FreePort.Next()}/", new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }),
                settings, time))
            {
                for (var i = 0; i < 20; i++)
                {
                    using var response = await edge.Client.GetAsync($"/r/{i}");
                    Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
                }
            }

            var lines = ReadShared(log);
            Assert.DoesNotContain(lines, line => line.StartsWith("Yarp.ReverseProxy.Forwarder", StringComparison.Ordinal));
            var edgeLines = lines.Where(line => line.StartsWith("Edge.Proxy.Pipeline.EdgeRequestMiddleware|Warning|", StringComparison.Ordinal)).ToList();
            Assert.Single(edgeLines);
            Assert.Contains("route r failed (Request)", edgeLines[0], StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static List<string> ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }
}
