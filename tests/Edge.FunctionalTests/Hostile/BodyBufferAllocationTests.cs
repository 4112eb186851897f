using System.Net;
using System.Net.Sockets;
using System.Text;
using Edge.FunctionalTests.Webhooks;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

[CollectionDefinition(nameof(BodyBufferAllocationTests), DisableParallelization = true)]
public sealed class BodyBufferAllocationCollection;

/// <summary>
/// Run alone: the test reads the process's allocation counter, which other tests' edges (in the same process) move too.
/// </summary>
[Collection(nameof(BodyBufferAllocationTests))]
public sealed class BodyBufferAllocationTests
{
    private const int Connections = 8;
    private const long Cap = 26_214_400;

    [Fact]
    public async Task EdgeBodyBuffering_DeclaredLengthAtTheCapBodyNotSent_AllocatesForWhatArrivesNotTheDeclaredLength()
    {
        // The buffer was allocated at the declared Content-Length before a byte of the body arrived: a client with no
        // secret (any signature header passes the header check) declaring 25 MiB on each of a few connections, and
        // sending nothing, held 25 MiB of the edge's memory per request for as long as the body-rate grace lasted.
        using var backend = Backend.Start();
        var secret = Path.GetTempFileName();
        await File.WriteAllTextAsync(secret, WebhookSchemes.GitHubSecret);
        var clients = new List<TcpClient>();
        try
        {
            var json = ProxyJson.Create(
                backend.Url,
                new Dictionary<string, object> { ["github"] = ProxyJson.Route("/hooks/github", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }) },
                new { Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "file:" + secret }, MaxBodyBytes = Cap } } });
            await using var edge = await EdgeHost.StartAsync(json);
            var warmUp = new List<TcpClient>();
            await HoldBodyAsync(edge, warmUp);
            DisposeAll(warmUp);

            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < Connections; i++)
            {
                await HoldBodyAsync(edge, clients);
            }

            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            DisposeAll(clients);

            // Each request has reached the body read (its 100 Continue came): before, at least Connections × 25 MiB.
            Assert.True(allocated < Connections * Cap / 4, $"{allocated} bytes allocated for {Connections} bodies that never came");
        }
        finally
        {
            DisposeAll(clients);
            File.Delete(secret);
        }
    }

    private static void DisposeAll(List<TcpClient> clients)
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }

        clients.Clear();
    }

    /// <summary>Sends a delivery's head declaring the cap, and waits for the edge's 100 Continue: it is reading the body.</summary>
    private static async Task HoldBodyAsync(EdgeHost edge, List<TcpClient> clients)
    {
        var client = new TcpClient();
        clients.Add(client);
        await client.ConnectAsync(IPAddress.Loopback, edge.ProxyPort);
        var stream = client.GetStream();
        var head = $"POST /hooks/github HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
            + $"X-Hub-Signature-256: sha256={new string('0', 64)}\r\nX-GitHub-Delivery: {Guid.NewGuid()}\r\nContent-Length: {Cap}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var buffer = new byte[256];
        var answer = "";
        while (!answer.Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(0, read);
            answer += Encoding.ASCII.GetString(buffer, 0, read);
        }

        Assert.StartsWith("HTTP/1.1 100 Continue", answer, StringComparison.Ordinal);
    }
}
