using System.Net;
using System.Net.Sockets;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.Observability;

/// <summary>
/// Never a secret in the logs at any level: with every category turned up to Verbose, the framework's own lines
/// (ASP.NET Core hosting's request start/finish, YARP's "Proxying to", Kestrel's bad-request lines) must not carry the
/// client's query string or the raw bytes of a request line or header Kestrel refused.
/// </summary>
public sealed class RequestContentLogTests
{
    private const string QuerySecret = "QUERYSECRET0123456789";
    private const string HeaderSecret = "HEADERSECRET0123456789";

    [Fact]
    public async Task AddEdgeObservability_EveryCategoryVerbose_LogsNoQueryStringOrRefusedRequestBytes()
    {
        using var backend = Backend.Start();
        var log = LogFile.NewPath();
        var settings = LogFile.Settings(log);
        settings["Edge:Observability:Activities"] = "true";
        settings["Serilog:MinimumLevel:Default"] = "Verbose";
        foreach (var category in new[]
        {
            "Microsoft", "Microsoft.AspNetCore", "Microsoft.AspNetCore.Hosting.Diagnostics", "System", "System.Net.Http.HttpClient",
            "Yarp", "Yarp.ReverseProxy.Forwarder.HttpForwarder", "Yarp.ReverseProxy.Forwarder.ForwarderMiddleware",
        })
        {
            settings[$"Serilog:MinimumLevel:Override:{category}"] = "Verbose";
        }

        try
        {
            await using (var edge = await EdgeHost.StartAsync(
                ProxyJson.Create(backend.Url, new Dictionary<string, object>
                {
                    ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
                }),
                settings))
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/orders/1?api_key={QuerySecret}&x=1");
                request.Headers.Add("X-Tenant-ID", "acme");
                using var response = await edge.Client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Contains(QuerySecret, Assert.Single(backend.Received).RequestMessage!.Url, StringComparison.Ordinal);

                // A header line ending in a bare LF, and a request line ending in one: Kestrel refuses both (400).
                Assert.StartsWith("HTTP/1.1 400", await SendRawAsync(edge.ProxyPort,
                    $"GET /orders/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {HeaderSecret}\nX-B: 1\r\n\r\n"), StringComparison.Ordinal);
                Assert.StartsWith("HTTP/1.1 400", await SendRawAsync(edge.ProxyPort,
                    $"GET /orders/3?api_key={QuerySecret} HTTP/1.1\nHost: 127.0.0.1\r\n\r\n"), StringComparison.Ordinal);
            }

            var lines = await LogFile.ReadLinesAsync(log);
            // The categories were on: the lines that used to carry the values are still written.
            Assert.Contains(lines, line => line.StartsWith("Microsoft.AspNetCore.Hosting.Diagnostics|", StringComparison.Ordinal) && line.Contains("/orders/1", StringComparison.Ordinal));
            Assert.Contains(lines, line => line.StartsWith("Yarp.ReverseProxy.Forwarder.HttpForwarder|", StringComparison.Ordinal) && line.Contains("/orders/1", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, line => line.Contains(QuerySecret, StringComparison.Ordinal));
            Assert.DoesNotContain(lines, line => line.Contains(HeaderSecret, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static async Task<string> SendRawAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync() ?? "";
    }
}
